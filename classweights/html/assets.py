"""The report's inline style sheet and script (no fonts, images or scripts are fetched)."""

from __future__ import annotations

CSS = """
:root{--ink:#1d2430;--muted:#5c6675;--line:#dfe3e8;--band:#f6f7f9;--accent:#3b6ea8}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
color:var(--ink);background:#fff}
header{padding:18px 28px 10px;border-bottom:1px solid var(--line);background:var(--band)}
h1{font-size:22px;margin:0}
.sub{margin:2px 0 8px;color:var(--muted);word-break:break-all}
details.paths summary{cursor:pointer;color:var(--muted)}
details.paths ul{max-height:16em;overflow:auto;margin:4px 0;padding-left:1.2em;word-break:break-all}
nav a{margin-right:14px;color:var(--accent);text-decoration:none;font-size:13px}
main{padding:4px 28px 40px;max-width:1500px}
section{margin-top:22px}
h2{font-size:18px;border-bottom:2px solid var(--accent);padding-bottom:3px;margin:0 0 8px}
h3{font-size:15px;margin:16px 0 6px}
h4{font-size:13px;margin:10px 0 4px;font-weight:600}
.note{color:var(--muted);font-size:12.5px;margin:4px 0 8px}
dl.grid{display:grid;grid-template-columns:max-content 1fr;gap:3px 18px;margin:0}
dt{color:var(--muted)}dd{margin:0;word-break:break-all}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--band);
padding:1px 4px;border-radius:3px}
.scroll{overflow:auto;max-height:680px;border:1px solid var(--line);border-radius:4px;
margin:4px 0;width:fit-content;max-width:100%}
.cards{display:flex;flex-wrap:wrap;gap:6px 22px;align-items:flex-start}
table{border-collapse:collapse;font-size:13px;white-space:nowrap}
th,td{padding:3px 9px;border-bottom:1px solid var(--line);text-align:left}
thead th{position:sticky;top:0;background:#eef1f5;cursor:pointer;user-select:none}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tbody tr:nth-child(even){background:var(--band)}
tr.absent td{color:#9aa3ad}
td.path{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
ul.hints li{margin:3px 0}
.longlist{max-height:460px;overflow:auto}
ul.never{columns:2;column-gap:28px;font-size:13px}
ul.never li{break-inside:avoid;margin-bottom:3px}
.readout{font-size:13px;min-height:1.4em;color:var(--accent)}
svg.chart{display:block;font-size:11px;fill:var(--ink)}
svg .ph{font-weight:600;font-size:12px}
svg .tick{font-size:10px;fill:var(--muted)}
svg .zero{font-size:9px;fill:#9aa3ad}
svg .grid{stroke:#e4e7eb;stroke-width:1}
@media print{header{background:none}nav,.readout{display:none}
.scroll,.longlist{overflow:visible;max-height:none;border:0}thead th{position:static}
section{break-inside:auto}h2,h3{break-after:avoid}}
"""

# Sorting: a header click sorts its table by the cells' exact values (data-v), else by text.
# Heat map: the cell under the pointer is read out from the inert JSON island.
SCRIPT = """
(function(){
function val(c){var v=c.getAttribute("data-v");return v===null?null:parseFloat(v);}
document.querySelectorAll("table.sortable th").forEach(function(th){
  th.addEventListener("click",function(){
    var t=th.closest("table"),b=t.tBodies[0],col=th.cellIndex,
        up=th.getAttribute("aria-sort")!=="ascending";
    t.querySelectorAll("th").forEach(function(h){h.removeAttribute("aria-sort");});
    th.setAttribute("aria-sort",up?"ascending":"descending");
    var rows=Array.prototype.slice.call(b.rows);
    rows.sort(function(r,s){
      var x=r.cells[col],y=s.cells[col],u=val(x),v=val(y),d;
      if(u!==null||v!==null){d=(u===null?-Infinity:u)-(v===null?-Infinity:v);d=isNaN(d)?0:d;}
      else{d=x.textContent.localeCompare(y.textContent);}
      return up?d:-d;
    });
    rows.forEach(function(r){b.appendChild(r);});
  });
});
var svg=document.getElementById("cooc"),island=document.getElementById("cooc-data"),
    out=document.getElementById("cooc-readout");
if(svg&&island&&out){
  var data=JSON.parse(island.textContent),n=data.names.length;
  svg.addEventListener("mousemove",function(e){
    var r=svg.getBoundingClientRect(),cell=+svg.getAttribute("data-cell"),
        j=Math.floor((e.clientX-r.left-svg.getAttribute("data-left"))/cell),
        i=Math.floor((e.clientY-r.top-svg.getAttribute("data-top"))/cell);
    if(i>=0&&j>=0&&i<n&&j<n){
      out.textContent=data.names[i]+" \\u00d7 "+data.names[j]+": "+data.counts[i][j]+" images";
    }
  });
}
document.documentElement.setAttribute("data-ready","1");
})();
"""
