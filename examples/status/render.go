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
tr.refused { background: #fde2e1; } .clean { color: #176f2c; } .dirty, .err { color: #a11; }
.state-active { color: #176f2c; } .state-receive-only, .state-restoring { color: #8a5a00; } .state-removed { color: #777; }
small, .note { color: #666; } code { font-size: .95em; }
</style>
</head>
<body data-generated="{{stamp .Generated}}">
<header>
<h1>Replica family <code id="family">{{.Family}}</code></h1>
<p>Data code page <strong id="codepage">{{.CodePage}}</strong>{{with .Planned}} (planned: <strong id="planned">{{.CodePage}}</strong>){{end}} · {{len .Replicas}} replicas · generated
<time datetime="{{stamp .Generated}}">{{.Generated.Format "2006-01-02 15:04:05 MST"}}</time>
(<span class="ago" data-time="{{stamp .Generated}}">just now</span>)</p>
</header>
{{- if .Problems}}
<section id="problems">
<h2>Problems</h2>
<ul>{{range .Problems}}<li class="problem err">{{.}}</li>{{end}}</ul>
</section>
{{- end}}

<section id="replicas">
<h2>Replicas</h2>
<table>
<thead><tr><th>No</th><th>Name</th><th>ID</th><th>State</th><th>Key fingerprint</th><th>Epoch</th><th>Unsealed changes</th><th>Last packet in</th><th>Last packet out</th><th>Notes</th></tr></thead>
<tbody>
{{- range .Replicas}}
<tr class="replica" data-id="{{.ID}}" data-name="{{.Name}}" data-state="{{.State}}">
<td class="num">{{.Number}}</td><td class="name">{{.Name}}</td><td><code>{{.ID}}</code></td>
<td class="state state-{{.State}}">{{.State}}</td>
<td><code class="fingerprint">{{.Fingerprint}}</code>{{if .Rotated}} <small>(rotated)</small>{{end}}</td>
<td class="num">{{.Epoch}}</td>
<td class="num">{{if ge .Pending 0}}{{.Pending}}{{else}}<small>no database here</small>{{end}}</td>
<td>{{with .LastIn}}from {{.From}} {{if .OK}}{{else}}<span class="err">(refused)</span> {{end}}<span class="ago" data-time="{{stamp .Time}}">{{ago .Time $.Generated}}</span>{{else}}<small>none moved here</small>{{end}}</td>
<td>{{with .LastOut}}to {{.To}} {{if .OK}}{{else}}<span class="err">(refused)</span> {{end}}<span class="ago" data-time="{{stamp .Time}}">{{ago .Time $.Generated}}</span>{{else}}<small>none moved here</small>{{end}}</td>
<td class="notes">{{if .Site}}<small>{{.Site}}</small>{{else}}<small>not open here: figures are what the other members know</small>{{end}}
{{- if .Incarnation}}<br>restored from backup {{.Incarnation}}×{{end}}
{{- range .Disagree}}<br><span class="disagree">{{.}}</span>{{end}}</td>
</tr>
{{- end}}
</tbody>
</table>
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
The library records no packet times; the times are of packets this process moved itself (with -dir it moves none).</p>
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

<section id="requests">
<h2>Open mastership requests</h2>
{{- if .Requests.List}}
<table>
<thead><tr><th>Request</th><th>Row</th><th>Asked by</th><th>Master asked</th><th>State</th><th>Reason</th><th>Since</th></tr></thead>
<tbody>
{{- range .Requests.List}}
<tr class="request" data-id="{{.ID}}" data-requester="{{.Requester}}" data-master="{{.Master}}" data-state="{{.State}}">
<td><code>{{.ID}}</code></td><td>{{.Table}}[{{.Key}}]</td><td>{{.Requester}}</td><td>{{.Master}}{{if not .Delivered}} <small>(not delivered yet)</small>{{end}}</td>
<td>{{.State}}</td><td>{{.Reason}}</td><td><span class="ago" data-time="{{stamp .Created}}">{{ago .Created $.Generated}}</span></td>
</tr>
{{- end}}
</tbody>
</table>
{{- else}}
<p class="none">No open mastership request.</p>
{{- end}}
</section>

<section id="mastership">
<h2>Mastership</h2>
{{- with .Mastery}}
<p class="note">Rows each replica masters, per table, as {{.Seen}} sees it{{if .InFlight}}; {{.InFlight}} transfer{{if ne .InFlight 1}}s{{end}} in flight, not yet acknowledged by the new master{{end}}.</p>
<table>
<thead><tr><th>table</th>{{range $.Replicas}}<th>{{.Name}}</th>{{end}}</tr></thead>
<tbody>
{{- range .Tables}}
<tr class="mastery" data-table="{{.Table}}"><th>{{.Table}}</th>{{range $i, $n := .Counts}}<td class="num" data-replica="{{(index $.Replicas $i).Name}}">{{$n}}</td>{{end}}</tr>
{{- end}}
</tbody>
</table>
{{- else}}
<p class="none">No database could be read.</p>
{{- end}}
</section>

<section id="bays">
<h2>Storage bays</h2>
{{- if .Bays}}
{{- range .Bays}}
<div class="bay" data-site="{{.Site}}" data-waiting="{{len .Waiting}}">
<h3>{{.Site}} <small><code>{{.Dir}}</code></small></h3>
{{- if .Err}}<p class="err">{{.Err}}</p>{{end}}
{{- if .Waiting}}
<ul>{{range .Waiting}}<li class="waiting{{if .Stale}} stale{{end}}" data-from="{{.From}}" data-to="{{.To}}">{{.File}}: {{if .Err}}<span class="err">{{.Err}}</span>{{else}}from {{.From}} to {{.To}}{{end}}, {{.Bytes}} bytes, waiting <span class="ago" data-time="{{stamp .Time}}">{{ago .Time $.Generated}}</span>{{if .Stale}} <strong class="err">stale: no import has taken it for over a day</strong>{{end}}</li>{{end}}</ul>
{{- else}}
<p class="none">No packet waiting.</p>
{{- end}}
{{- range .Rounds}}
<p class="round{{if .Failed}} err{{end}}" data-replica="{{.Replica}}" data-failed="{{.Failed}}">Last sync round at {{.Replica}}: <span class="ago" data-time="{{stamp .Started}}">{{ago .Started $.Generated}}</span>, {{.Links}} link{{if ne .Links 1}}s{{end}}, {{if .Failed}}{{.Failed}} failed{{range .Errors}}<br>{{.}}{{end}}{{else}}all ok{{end}}.</p>
{{- end}}
<p class="last">{{with .LastDone}}Last imported: {{.File}} from {{.From}} <span class="ago" data-time="{{stamp .Time}}">{{ago .Time $.Generated}}</span>.{{else}}Nothing imported from this bay yet.{{end}}
{{- with .LastFailed}} <span class="err">Last refused: {{.File}} from {{.From}} <span class="ago" data-time="{{stamp .Time}}">{{ago .Time $.Generated}}</span> (in failed/).</span>{{end}}</p>
</div>
{{- end}}
{{- else}}
<p class="none">No storage bay is known here (run with -plan to show the sites' bays).</p>
{{- end}}
</section>

<section id="convergence">
<h2>Convergence</h2>
<p id="converged" class="{{if .Convergence.Diverged}}err{{else if .Convergence.Identical}}clean{{end}}">
{{- if .Convergence.Diverged}}Divergence detected: {{join .Convergence.Diverged "; "}} hold the same epochs but different data.
{{- else if .Convergence.Identical}}The open replicas hold identical replicated data.
{{- else}}The open replicas differ; they have not all received the same epochs yet.{{end}}</p>
<table>
<thead><tr><th>Replica</th><th>Content hash</th></tr></thead>
<tbody>{{range .Convergence.Hashes}}<tr class="hash" data-replica="{{.Replica}}"><td>{{.Replica}}</td><td><code>{{.Hash}}</code>{{if .Err}}<span class="err">{{.Err}}</span>{{end}}</td></tr>{{end}}</tbody>
</table>
</section>

<section id="packets">
<h2>Last packets</h2>
<p class="note">Packets this process moved, newest first (at most 50, kept in memory). The library itself records no packet history.</p>
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
