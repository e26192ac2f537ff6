package main

import (
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

// Render writes p as a complete HTML document. Everything is rendered
// here; the page's small script only keeps the "… ago" labels current.
func Render(w io.Writer, p *Page) error {
	return pageTemplate.Execute(w, p)
}

// stamp formats t for a data-time attribute: UTC with milliseconds, which
// every browser's Date.parse reads.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// ago says how long before now t was, in the same words as the page's
// script: "just now", "12 s ago", "3 min ago", "2 h ago", "4 days ago".
func ago(t, now time.Time) string {
	s := int64(now.Sub(t) / time.Second)
	switch {
	case s >= 2*86400:
		return fmt.Sprintf("%d days ago", s/86400)
	case s >= 2*3600:
		return fmt.Sprintf("%d h ago", s/3600)
	case s >= 2*60:
		return fmt.Sprintf("%d min ago", s/60)
	case s >= 1:
		return fmt.Sprintf("%d s ago", s)
	}
	return "just now"
}

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"stamp":         stamp,
	"ago":           ago,
	"maxViolations": func() int { return maxViolations },
	"join":          strings.Join,
}).Parse(pageHTML))

// The script must not contain "<" or "&": tests read the page with a
// lenient XML tokenizer, and it keeps the script readable as plain text.
const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{{- if .Refresh}}
<meta http-equiv="refresh" content="{{.Refresh}}">
{{- end}}
<title>multisite family {{.Family}}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; } th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: left; vertical-align: top; }
td.epoch, td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.self { background: #f3f3f3; } td.behind, td.lagging { background: #fff3cd; }
tr.refused, tr.bay-refused { background: #fde2e1; } tr.request.open { background: #eef4ff; } li.warning { color: #8a5a00; }
.kind { font-weight: 600; } tr.differ td { background: #fff3cd; }
td.db { max-width: 24em; } td.db small, td.notes code, #bays small { word-break: break-all; } td.notes { max-width: 22em; } .clean { color: #176f2c; } .dirty, .err { color: #a11; }
.state-active { color: #176f2c; } .state-receive-only, .state-restoring { color: #8a5a00; } .state-removed { color: #777; }
small, .note { color: #666; } code { font-size: .95em; }
</style>
</head>
<body data-generated="{{stamp .Generated}}">
<header>
<h1>Replica family <code id="family">{{.Family}}</code></h1>
<p>Data code page <strong id="codepage">{{.CodePage}}</strong>{{with .Planned}} (planned: <strong id="planned">{{.CodePage}}</strong>){{end}} · {{len .Replicas}} replicas · generated
<time datetime="{{stamp .Generated}}">{{.Generated.Format "2006-01-02 15:04:05 MST"}}</time>
(<span class="ago" data-time="{{stamp .Generated}}">just now</span>){{if .Refresh}} · <span id="refresh">reloads every {{.Refresh}} s</span>{{end}}</p>
</header>
{{- if .Problems}}
<section id="problems">
<h2>Problems</h2>
<ul>{{range .Problems}}<li class="problem err">{{.}}</li>{{end}}</ul>
</section>
{{- end}}
{{- if .Warnings}}
<section id="warnings">
<h2>Warnings</h2>
<ul>{{range .Warnings}}<li class="warning">{{.}}</li>{{end}}</ul>
</section>
{{- end}}

<section id="replicas">
<h2>Replicas</h2>
<table>
<thead><tr><th>No</th><th>Name</th><th>State</th><th>Database</th><th>Epoch</th><th>Unsealed changes</th><th>Waiting in bays</th><th>Last sync in</th><th>Last packet out</th><th>Notes</th></tr></thead>
<tbody>
{{- range .Replicas}}
<tr class="replica" data-id="{{.ID}}" data-name="{{.Name}}" data-state="{{.State}}"{{if .Kind}} data-kind="{{.Kind}}"{{end}}>
<td class="num">{{.Number}}</td><td class="name">{{.Name}}</td>
<td class="state state-{{.State}}">{{.State}}</td>
<td class="db">{{if .Site}}<span class="kind kind-{{.Kind}}">{{.Kind}}</span> <small>{{.Site}}</small>{{else}}<small>not open here: figures are what the other members know</small>{{end}}</td>
<td class="num">{{.Epoch}}</td>
<td class="num pending">{{if ge .Pending 0}}{{.Pending}}{{else}}<small>not open here</small>{{end}}</td>
<td class="num waiting">{{.Waiting}}</td>
<td class="lastsync">{{with .LastSync}}<span class="{{if .OK}}clean{{else}}err{{end}}">{{if .OK}}ok{{else}}refused{{end}}</span> from {{.From}} <span class="ago" data-time="{{stamp .Time}}">{{ago .Time $.Generated}}</span><br><small>{{.Result}} · via {{.Via}}</small>{{else}}<small>none seen</small>{{end}}</td>
<td>{{with .LastOut}}to {{.To}} {{if .OK}}{{else}}<span class="err">(refused)</span> {{end}}<span class="ago" data-time="{{stamp .Time}}">{{ago .Time $.Generated}}</span>{{else}}<small>none moved here</small>{{end}}</td>
<td class="notes"><code>{{.ID}}</code> <code class="fingerprint">{{.Fingerprint}}</code>{{if .Rotated}} <small>(rotated)</small>{{end}}
{{- if .Incarnation}}<br>restored from backup {{.Incarnation}}×{{end}}
{{- range .Disagree}}<br><span class="disagree">{{.}}</span>{{end}}</td>
</tr>
{{- end}}
</tbody>
</table>
{{- if .Sites}}
<p class="note">Databases read:{{range $i, $s := .Sites}}{{if $i}};{{end}} <span class="site{{if .Err}} err{{end}}" data-name="{{.Name}}" data-kind="{{.Kind}}">{{.Kind}} {{.Path}}{{if .Replica}} ({{.Replica}}){{end}}{{if .Err}}: not shown{{end}}</span>{{end}}</p>
{{- end}}
</section>

<section id="matrix">
<h2>Epoch matrix</h2>
<p class="note">Row: holder. Column: origin. Cell: the newest epoch of the origin's changes the holder has.
Each row is read from the holder's own database; a row marked * is the highest epoch any open database believes the holder has.</p>
<table>
<thead><tr><th>holder \ origin</th>{{range .Replicas}}<th>{{.Name}}</th>{{end}}</tr></thead>
<tbody>
{{- range .Matrix}}
<tr><th>{{.Holder.Name}}{{if not .Measured}}*{{end}}</th>
{{- range .Cells}}<td class="epoch{{if .Self}} self{{end}}{{if .Behind}} behind{{end}}" data-holder="{{.Holder}}" data-origin="{{.Origin}}">{{.Epoch}}</td>{{end}}</tr>
{{- end}}
</tbody>
</table>
</section>

<section id="lag">
<h2>Lag</h2>
<p class="note">Epochs each holder lacks of each origin's newest sealed epoch, and when this process last delivered new epochs of that origin to it.
The library records no packet times; the times are of packets this process moved itself (with -dir or -db it moves none).</p>
<table>
<thead><tr><th>holder \ origin</th>{{range .Replicas}}<th>{{.Name}}</th>{{end}}</tr></thead>
<tbody>
{{- range .Matrix}}
<tr><th>{{.Holder.Name}}{{if not .Measured}}*{{end}}</th>
{{- range .Cells}}
<td class="lag{{if .Behind}} lagging{{end}}" data-holder="{{.Holder}}" data-origin="{{.Origin}}" data-behind="{{.Behind}}">
{{- if .Self}}<small>itself</small>{{else if .Behind}}{{.Behind}} behind{{else}}up to date{{end}}
{{- if not .Self}}<br><small>{{with .LastNew}}new epochs <span class="ago" data-time="{{stamp .}}">{{ago . $.Generated}}</span>{{else}}none delivered here{{end}}</small>{{end}}</td>
{{- end}}</tr>
{{- end}}
</tbody>
</table>
</section>

<section id="bays">
<h2>Packets in storage bays</h2>
<p class="note">{{if .Bays}}{{index .Bayed "waiting"}} waiting (in transit), {{index .Bayed "being written"}} being written, and the newest imported ({{index .Bayed "imported"}}) and refused ({{index .Bayed "refused"}}).
The header is read unsigned; the import checks the signature.{{else}}No packets in the bays given (-bay).{{end}}</p>
{{- if .Bays}}
<table>
<thead><tr><th>State</th><th>From</th><th>To</th><th>Direction</th><th>Kind</th><th>Bytes</th><th>Age</th><th>File</th><th>Note</th></tr></thead>
<tbody>
{{- range .Bays}}
<tr class="bay-packet bay-{{.State}}" data-state="{{.State}}" data-from="{{.From}}" data-to="{{.To}}">
<td class="{{if eq .State "refused"}}err{{end}}">{{.State}}</td><td>{{.From}}</td><td>{{.To}}</td>
<td>{{if .Outbound}}outbound{{end}}{{if and .Outbound .Inbound}}, {{end}}{{if .Inbound}}inbound{{end}}</td>
<td>{{.Kind}}</td><td class="num">{{.Bytes}}</td>
<td><span class="ago" data-time="{{stamp .Age}}">{{ago .Age $.Generated}}</span></td>
<td><small>{{.Bay}}/{{.File}}</small></td><td><small>{{.Note}}</small></td>
</tr>
{{- end}}
</tbody>
</table>
{{- end}}
</section>

<section id="mastery">
<h2>Mastership</h2>
<p class="note">Rows each replica masters, per table, as each open database counts them (multisite.Mastered); a highlighted row is one the databases do not agree on yet.</p>
{{- if .Mastery}}
<table>
<thead><tr><th>Table</th><th>Master</th>{{range .MasterySites}}<th>at {{.}}</th>{{end}}</tr></thead>
<tbody>
{{- range .Mastery}}
<tr class="mastery{{if .Differ}} differ{{end}}" data-table="{{.Table}}" data-master="{{.Master}}">
<td>{{.Table}}</td><td>{{.Master}}</td>{{range .Counts}}<td class="num count">{{if ge . 0}}{{.}}{{else}}–{{end}}</td>{{end}}</tr>
{{- end}}
</tbody>
</table>
{{- else}}
<p class="none">No replicated rows.</p>
{{- end}}
{{- if .Transfers}}
<h3>Transfers in flight</h3>
<ul>{{range .Transfers}}<li class="transfer">{{.Table}}[{{.Key}}] from {{.From}} to {{.To}}{{if .Epoch}} (epoch {{.Epoch}}){{else}} (not sealed yet){{end}} <small>seen at {{join .SeenAt ", "}}</small></li>{{end}}</ul>
{{- end}}
</section>

<section id="requests">
<h2>Mastership requests</h2>
{{- if .Requests}}
<table>
<thead><tr><th>State</th><th>Row</th><th>Asked by</th><th>Asked of</th><th>Reason</th><th>Answer</th><th>Made</th><th>Known at</th></tr></thead>
<tbody>
{{- range .Requests}}
<tr class="request{{if .Open}} open{{end}}" data-id="{{.ID}}" data-state="{{.State}}">
<td class="{{if .Open}}dirty{{end}}">{{.State}}{{if .Hops}} <small>({{.Hops}} hops)</small>{{end}}{{if and .Open (not .Delivered)}}<br><small>not delivered yet</small>{{end}}</td>
<td>{{.Table}}[{{.Key}}]</td><td>{{.Requester}}</td><td>{{.Master}}</td><td>{{.Reason}}</td><td>{{.Answer}}</td>
<td><span class="ago" data-time="{{stamp .Created}}">{{ago .Created $.Generated}}</span></td><td><small>{{join .SeenAt ", "}}</small></td>
</tr>
{{- end}}
</tbody>
</table>
{{- else}}
<p class="none">No mastership requests (multisite.Requests at every open database).</p>
{{- end}}
</section>

<section id="collisions">
<h2>Unique-key collisions</h2>
{{- if .Collisions}}
<table>
<thead><tr><th>Table</th><th>Unique key</th><th>Value</th><th>Kept by</th><th>Renamed</th><th>State at each database</th><th>Detected</th></tr></thead>
<tbody>
{{- range .Collisions}}
<tr class="collision" data-id="{{.ID}}" data-table="{{.Table}}">
<td>{{.Table}}</td><td>{{.Columns}}</td><td>{{.Value}}</td><td>{{.Winner}} <small>[{{.KeptKey}}]</small></td>
<td>{{.Loser}}'s [{{.Key}}]: {{.Original}} → <strong>{{.Renamed}}</strong></td><td>{{join .States "; "}}</td>
<td><span class="ago" data-time="{{stamp .Detected}}">{{ago .Detected $.Generated}}</span></td>
</tr>
{{- end}}
</tbody>
</table>
{{- else}}
<p class="none">No collisions recorded (multisite.Collisions at every open database).</p>
{{- end}}
</section>

<section id="divergence">
<h2>Divergence</h2>
{{- with .Divergence}}
<p id="compare" class="{{if .Diverged}}err{{else if .Compared}}clean{{else}}note{{end}}" data-compared="{{.Compared}}" data-diverged="{{.Diverged}}">
{{- if .Diverged}}Divergence detected: the open replicas hold the same changes (same epoch vector) but their content differs (multisite.ContentHash).
{{- else if .Compared}}No divergence: every open replica is at the same epoch vector and has the same content hash.
{{- else}}{{.Reason}}{{end}}</p>
{{- if .Hashes}}<ul>{{range .Hashes}}<li><code>{{.}}</code></li>{{end}}</ul>{{end}}
{{- end}}
</section>

<section id="packets">
<h2>Packets moved by this process</h2>
<p class="note">Packets this process moved itself, newest first (at most 50, kept in memory). The library itself records no packet history.</p>
{{- if .Packets}}
<table>
<thead><tr><th>When</th><th>From</th><th>To</th><th>Bytes</th><th>Rows</th><th>Transfers</th><th>Brings epoch</th><th>Result</th></tr></thead>
<tbody>
{{- range .Packets}}
<tr class="packet{{if not .OK}} refused{{end}}" data-from="{{.From}}" data-to="{{.To}}" data-ok="{{.OK}}"{{if .Damage}} data-damaged="true"{{end}}>
<td><time datetime="{{stamp .Time}}">{{.Time.Format "15:04:05"}}</time> <small class="ago" data-time="{{stamp .Time}}">{{ago .Time $.Generated}}</small></td>
<td>{{.From}}</td><td>{{.To}}</td><td class="num">{{.Bytes}}</td><td class="num">{{.Rows}}</td><td class="num">{{.Transfers}}</td><td class="num">{{.Epoch}}</td>
<td>{{if .Damage}}<span class="damage">damaged: {{.Damage}} ({{.Arrived}} of {{.Bytes}} bytes arrived)</span><br>{{end}}
{{- if .OK}}applied: {{.Applied}}{{else}}<span class="err">refused: {{.Err}}</span>{{end}}</td>
</tr>
{{- end}}
</tbody>
</table>
{{- else}}
<p class="none">This process has moved no packets.</p>
{{- end}}
</section>

<section id="charset">
<h2>Charset validation</h2>
<p class="note">ValidateCharset at each open database: every table against the family's data code page, which the database also enforces on every write and import
{{- with .Planned}}, and the replicated tables against the planned code page {{.CodePage}}, all of which must fit it before multisite.ChangeCodePage changes anything{{end}}
(at most {{maxViolations}} violations listed per check).</p>
{{- with .Planned}}
<p id="plan" class="{{if .Violations}}dirty{{else if .Errors}}err{{else}}clean{{end}}" data-codepage="{{.CodePage}}" data-violations="{{.Violations}}">
{{- if .Violations}}Changing the code page to {{.CodePage}} is blocked: {{.Violations}}{{if .More}}+{{end}} character{{if ne .Violations 1}}s{{end}} outside it at {{join .Blocking ", "}}. Clean each at its row's master (multisite.CleanCharset) before multisite.ChangeCodePage.
{{- else if .Errors}}Could not check every open replica against {{.CodePage}}; see below.
{{- else}}Nothing at the open replicas blocks changing the code page to {{.CodePage}}.{{end}}
{{- with .Already}} Already on {{$.Planned.CodePage}}: {{join . ", "}}.{{end}}</p>
{{- end}}
{{- range .Charset}}
<div class="charset" data-replica="{{.Replica}}">
<h3>{{.Replica}} <small>{{.Site}}</small></h3>
{{- template "check" .Family}}
{{- with .Planned}}{{template "check" .}}{{end}}
</div>
{{- end}}
</section>

<section id="views">
<h2>The matrix as each database believes it</h2>
{{- range .Views}}
<details class="view" data-replica="{{.Replica.Name}}"><summary>{{.Replica.Name}} <small>{{.Site}}</small></summary>
<table>
<thead><tr><th>holder \ origin</th>{{range $.Replicas}}<th>{{.Name}}</th>{{end}}</tr></thead>
<tbody>
{{- range .Rows}}
<tr><th>{{.Holder.Name}}{{if .Measured}} (itself){{end}}</th>{{range .Cells}}<td class="epoch{{if .Self}} self{{end}}">{{.Epoch}}</td>{{end}}</tr>
{{- end}}
</tbody>
</table>
</details>
{{- end}}
</section>

<script>
(function () {
  // Keep the "... ago" labels current, counting from the server's clock.
  function ago(ms) {
    var s = Math.floor(ms / 1000);
    if (s >= 172800) { return Math.floor(s / 86400) + " days ago"; }
    if (s >= 7200) { return Math.floor(s / 3600) + " h ago"; }
    if (s >= 120) { return Math.floor(s / 60) + " min ago"; }
    if (s >= 1) { return s + " s ago"; }
    return "just now";
  }
  var generated = Date.parse(document.body.dataset.generated);
  var loaded = Date.now();
  function tick() {
    var now = generated + (Date.now() - loaded);
    document.querySelectorAll(".ago[data-time]").forEach(function (e) {
      e.textContent = ago(now - Date.parse(e.dataset.time));
    });
  }
  tick();
  setInterval(tick, 1000);
  document.documentElement.dataset.clock = "running";
})();
</script>
</body>
</html>
{{- define "check"}}
<div class="check" data-codepage="{{.CodePage}}" data-planned="{{.Planned}}"{{with .Report}} data-violations="{{len .Violations}}"{{end}}>
{{- $which := "the family's"}}{{if .Planned}}{{$which = "planned"}}{{end}}
{{- if .Err}}
<p class="err">{{.CodePage}} ({{$which}}): could not validate: {{.Err}}</p>
{{- else if .Report.Violations}}
<p class="dirty">{{.CodePage}} ({{$which}}): {{len .Report.Violations}}{{if .Report.Truncated}}+{{end}} character{{if ne (len .Report.Violations) 1}}s{{end}} outside it ({{.Report.Strings}} strings checked){{if .Planned}}, blocking the change{{end}}:</p>
<ul>{{range .Report.Violations}}<li class="violation" data-table="{{.Table}}" data-key="{{.Key}}" data-column="{{.Column}}">{{.}}</li>{{end}}</ul>
{{- else}}
<p class="clean">{{.CodePage}} ({{$which}}): clean, {{.Report.Strings}} strings in {{.Report.Tables}} tables fit</p>
{{- end}}
</div>
{{- end}}
`
