package multisite_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/multisite-go/multisite/syncpkt"
	"github.com/stretchr/testify/require"
)

// rssChildEnv makes a re-executed test binary the importer of
// TestImport_HostilePacketsStayUnder64MiB: "db path<TAB>packet path" (no
// packet: the baseline, which opens the database and imports nothing).
const rssChildEnv = "MULTISITE_TEST_RSS_CHILD"

// rssLimit is the most memory an import of any hostile packet may take
// with default options, above the process's baseline (issue 18).
const rssLimit = 64 << 20

// vmHWM returns the process's peak resident set size in bytes.
func vmHWM() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "VmHWM:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc/self/status")
}

// TestRSSChild is the importer process of
// TestImport_HostilePacketsStayUnder64MiB; run alone it skips.
func TestRSSChild(t *testing.T) {
	v := os.Getenv(rssChildEnv)
	if v == "" {
		t.Skip("runs only as the child process of TestImport_HostilePacketsStayUnder64MiB (" + rssChildEnv + ")")
	}
	f := strings.Split(v, "\t")
	require.Len(t, f, 2)
	db, err := sql.Open("sqlite", testdb.SQLiteDSN(f[0]))
	require.NoError(t, err)
	defer db.Close()
	_, err = multisite.ReadStatus(context.Background(), db)
	require.NoError(t, err)
	result := "none"
	start := time.Now()
	if f[1] != "" {
		pkt, err := os.Open(f[1])
		require.NoError(t, err)
		defer pkt.Close()
		_, err = multisite.ImportPacket(context.Background(), db, pkt, multisite.ImportOptions{})
		result = "ok"
		if err != nil {
			result = strings.ReplaceAll(err.Error(), "\n", " ")
		}
	}
	took := time.Since(start)
	hwm, err := vmHWM()
	require.NoError(t, err)
	fmt.Printf("rss-child hwm=%d took=%s result=%s\n", hwm, took.Round(time.Millisecond), result)
}

// runRSSChild imports pkt (a path, or "" for none) into the database at
// dbPath in a new process and returns its peak RSS, the import's time
// and result.
func runRSSChild(t *testing.T, dbPath, pkt string) (hwm int64, took, result string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRSSChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), rssChildEnv+"="+dbPath+"\t"+pkt)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "child: %s", out)
	for _, l := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(l, "rss-child "); ok {
			f := strings.SplitN(rest, " ", 3)
			hwm, err := strconv.ParseInt(strings.TrimPrefix(f[0], "hwm="), 10, 64)
			require.NoError(t, err)
			return hwm, strings.TrimPrefix(f[1], "took="), strings.TrimPrefix(f[2], "result=")
		}
	}
	t.Fatalf("child printed no result: %s", out)
	return 0, "", ""
}

// hostileWriter starts a packet from s to target, as s (or, with other, a
// key of no member) would sign it, with the header a genuine export has.
func hostileWriter(t *testing.T, w *bytes.Buffer, s, target *site, other bool) (*syncpkt.Writer, ed25519.PrivateKey, string) {
	t.Helper()
	var key []byte
	var family string
	require.NoError(t, s.db.QueryRow(`SELECT private_key, family FROM ms_ctl`).Scan(&key, &family))
	h, err := syncpkt.NewReader(bytes.NewReader(export(t, s, target)), syncpkt.ReaderOptions{}).Header()
	require.NoError(t, err)
	priv := ed25519.PrivateKey(key)
	if other {
		_, priv, err = ed25519.GenerateKey(nil)
		require.NoError(t, err)
	}
	pw, err := syncpkt.NewWriter(w, *h, syncpkt.WriterOptions{Sign: syncpkt.Ed25519Signer(priv), Compress: true, MaxFrame: 1 << 30})
	require.NoError(t, err)
	return pw, ed25519.PrivateKey(key), family
}

// randomPart writes part 1 of a split export from s to target, 96 MiB of
// random rows (as large on the wire as uncompressed), signed by key.
func randomPart(t *testing.T, w *bytes.Buffer, s, target *site, key ed25519.PrivateKey) {
	t.Helper()
	h, err := syncpkt.NewReader(bytes.NewReader(export(t, s, target)), syncpkt.ReaderOptions{}).Header()
	require.NoError(t, err)
	h.Part = 1
	pw, err := syncpkt.NewWriter(w, *h, syncpkt.WriterOptions{Sign: syncpkt.Ed25519Signer(key)})
	require.NoError(t, err)
	require.NoError(t, pw.Write(projectTable()))
	noise := make([]byte, 1<<20)
	for i := range 96 {
		_, err := rand.Read(noise)
		require.NoError(t, err)
		r := &syncpkt.Row{Version: 1, Master: string(s.id), Origin: string(s.id), Creator: string(s.id), Epoch: 1,
			Values: []syncpkt.Value{syncpkt.Text(fmt.Sprintf("P%d", i)), syncpkt.Text(string(noise))}}
		require.NoError(t, pw.Write(r))
	}
	require.NoError(t, pw.Close())
}

// provenRow is a project row made by s, with s's proof.
func provenRow(s *site, key ed25519.PrivateKey, family, code, title string) *syncpkt.Row {
	r := &syncpkt.Row{Version: 1, Master: string(s.id), Origin: string(s.id), Creator: string(s.id), Epoch: 1,
		Values: []syncpkt.Value{syncpkt.Text(code), syncpkt.Text(title)}}
	r.Proof = ed25519.Sign(key, syncpkt.RowMessage(family, "project", projectTable().Columns, r))
	return r
}

// TestImport_HostilePacketsStayUnder64MiB imports, each in a process of its
// own and with default options, packets a hostile member (or someone
// without any member's key) could send, and checks that the importer's peak
// RSS stays within 64 MiB of a process that imports nothing. It runs on
// SQLite: the bound is the packet reader's and the importer's, not the
// database's. The time each import took is logged, not checked.
func TestImport_HostilePacketsStayUnder64MiB(t *testing.T) {
	if testing.Short() {
		t.Skip("writes packets of GiBs (compressed to KBs)")
	}
	dir := t.TempDir()
	paths := map[string]string{}
	open := func(name string) *sql.DB {
		paths[name] = filepath.Join(dir, name+".db")
		return testdb.SQLiteAt(t, paths[name])
	}
	sites := familyOn(t, open, 3, "boston", "bangalore")
	boston, blr := sites[0], sites[1]

	packets := map[string]func(w *bytes.Buffer){
		// 2 GiB of rows of zeros, signed by no member: refused at the
		// first checkpoint, after 1 MiB.
		"forged zstd bomb": func(w *bytes.Buffer) {
			pw, _, _ := hostileWriter(t, w, blr, boston, true)
			require.NoError(t, pw.Write(projectTable()))
			zeros := string(make([]byte, 256<<10))
			for i := 0; pw.N() < 2<<30; i++ {
				r := &syncpkt.Row{Version: 1, Master: string(blr.id), Origin: string(blr.id), Creator: string(blr.id), Epoch: 1,
					Values: []syncpkt.Value{syncpkt.Text("Z"), syncpkt.Text(zeros)}}
				require.NoError(t, pw.Write(r))
			}
			require.NoError(t, pw.Close())
		},
		// Part 1 of a split export, 96 MiB uncompressed and random (so
		// as large on the wire), signed by no member: a part is held
		// until its siblings come, but only once it verified.
		"forged part": func(w *bytes.Buffer) {
			_, other, err := ed25519.GenerateKey(nil)
			require.NoError(t, err)
			randomPart(t, w, blr, boston, other)
		},
		// The same part signed by the member: it is held (in pieces) until
		// its siblings come.
		"signed part": func(w *bytes.Buffer) {
			var key []byte
			require.NoError(t, blr.db.QueryRow(`SELECT private_key FROM ms_ctl`).Scan(&key))
			randomPart(t, w, blr, boston, ed25519.PrivateKey(key))
		},
		// A member's genuine rows, each just under the default row limit (DefaultMaxRowSize).
		"signed rows at the limit": func(w *bytes.Buffer) {
			pw, key, family := hostileWriter(t, w, blr, boston, false)
			require.NoError(t, pw.Write(projectTable()))
			title := strings.Repeat("x", int(multisite.DefaultMaxRowSize)-1024)
			for i := range 30 {
				require.NoError(t, pw.Write(provenRow(blr, key, family, fmt.Sprintf("BIG%d", i), title)))
			}
			require.NoError(t, pw.Close())
		},
		// A row of 256 MiB of zeros, signed: its frame's length is refused.
		"huge frame": func(w *bytes.Buffer) {
			pw, key, family := hostileWriter(t, w, blr, boston, false)
			require.NoError(t, pw.Write(projectTable()))
			require.NoError(t, pw.Write(provenRow(blr, key, family, "HUGE", string(make([]byte, 256<<20)))))
			require.NoError(t, pw.Close())
		},
		// Settings at the row limit, signed: what an importer may hold.
		"huge settings": func(w *bytes.Buffer) {
			pw, _, _ := hostileWriter(t, w, blr, boston, false)
			v := strings.Repeat("s", int(multisite.DefaultMaxRowSize)-1024)
			for i := range 40 {
				require.NoError(t, pw.Write(&syncpkt.Setting{Key: fmt.Sprintf("x.big%d", i), Value: v}))
			}
			require.NoError(t, pw.Close())
		},
		// Many small settings, signed.
		"many settings": func(w *bytes.Buffer) {
			pw, _, _ := hostileWriter(t, w, blr, boston, false)
			for i := range 200000 {
				require.NoError(t, pw.Write(&syncpkt.Setting{Key: "x.n", Value: strconv.Itoa(i)}))
			}
			require.NoError(t, pw.Close())
		},
		// 60,000 copies of one mastership request, signed: a few KB
		// compressed, each a database lookup if taken.
		"repeated request": func(w *bytes.Buffer) {
			pw, _, _ := hostileWriter(t, w, blr, boston, false)
			now := time.Now().UTC().Format(time.RFC3339)
			v := fmt.Sprintf(`{"id":"r1","table":"project","key":["A"],"requester":%q,"master":%q,"state":"pending","created":%q,"updated":%q,"version":1,"origin":%q,"epoch":1}`,
				blr.id, boston.id, now, now, blr.id)
			for range 60000 {
				require.NoError(t, pw.Write(&syncpkt.Setting{Key: "ms.request", Value: v}))
			}
			require.NoError(t, pw.Close())
		},
		// 20,000 table frames, signed: a few hundred bytes compressed.
		"many tables": func(w *bytes.Buffer) {
			pw, _, _ := hostileWriter(t, w, blr, boston, false)
			for range 20000 {
				require.NoError(t, pw.Write(projectTable()))
			}
			require.NoError(t, pw.Close())
		},
	}
	base, took, _ := runRSSChild(t, paths["boston"], "")
	t.Logf("baseline: peak RSS %d MiB (%s)", base>>20, took)
	names := []string{"forged zstd bomb", "forged part", "signed part", "signed rows at the limit", "huge frame", "huge settings", "many settings", "repeated request", "many tables"}
	for _, name := range names {
		var buf bytes.Buffer
		packets[name](&buf)
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".pkt")
		require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o600))
		before := contentHash(t, boston)
		hwm, took, result := runRSSChild(t, paths["boston"], path)
		t.Logf("%-22s %8d bytes on the wire: peak RSS %4d MiB, +%3d MiB over the baseline, %s: %s", name, buf.Len(), hwm>>20, (hwm-base)>>20, took, result)
		if hwm-base >= rssLimit {
			t.Errorf("%s: peak RSS %d MiB above the baseline, want under %d MiB", name, (hwm-base)>>20, rssLimit>>20)
		}
		if name == "signed part" && contentHash(t, boston) != before {
			t.Errorf("%s: a part held for its siblings changed data", name)
		}
		if name != "signed rows at the limit" && name != "signed part" {
			if result == "ok" {
				t.Errorf("%s: imported, want refused", name)
			}
			if contentHash(t, boston) != before {
				t.Errorf("%s: refused packet changed data", name)
			}
		}
	}
}
