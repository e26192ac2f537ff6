package multisite_test

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/codepage"
	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/schema"
	"github.com/stretchr/testify/require"
)

// newFamilyOn is newFamily with a chosen data code page.
func newFamilyOn(t *testing.T, codePage string, names ...string) []*site {
	t.Helper()
	first := &site{name: names[0], db: openNew(t, names[0])}
	seedTracker(t, first.db, 3)
	info, err := multisite.Activate(ctx, first.db, multisite.ActivateOptions{Name: names[0], CodePage: codePage})
	require.NoError(t, err)
	first.id = info.ID
	sites := []*site{first}
	for _, n := range names[1:] {
		var buf bytes.Buffer
		ri, _, err := multisite.Replicate(ctx, first.db, n, &buf, multisite.ReplicateOptions{})
		require.NoError(t, err)
		s := &site{name: n, db: openNew(t, n), id: ri.ID}
		_, err = multisite.CreateReplica(ctx, s.db, &buf, multisite.CreateOptions{})
		require.NoError(t, err)
		require.NoError(t, multisite.SetState(ctx, s.db, replica.Active))
		sites = append(sites, s)
	}
	for _, s := range sites[1:] {
		syncPair(t, s, first)
		syncPair(t, first, s)
	}
	return sites
}

func TestChangeCodePage_TravelsAndWidens(t *testing.T) {
	sites := newFamilyOn(t, "windows-1252", "boston", "bangalore", "dublin")
	boston, blr, dub := sites[0], sites[1], sites[2]
	oldFromDublin := export(t, dub, boston) // made under windows-1252

	require.NoError(t, multisite.ChangeCodePage(ctx, boston.db, "65001"))
	// A packet made under the old page is refused until its sender has
	// taken the change.
	_, err := multisite.ImportPacket(ctx, boston.db, bytes.NewReader(oldFromDublin), multisite.ImportOptions{})
	var me *multisite.MismatchError
	if !errors.As(err, &me) || !errors.Is(err, multisite.ErrCodePage) {
		t.Fatalf("old-page packet: error = %v, want ErrCodePage", err)
	}
	if rep := syncPair(t, boston, blr); rep.CodePage != "UTF-8" {
		t.Errorf("bangalore's import reports code page %q, want UTF-8", rep.CodePage)
	}
	mustExec(t, blr.db, `INSERT INTO project (code, title) VALUES ('JP', '東京')`)
	syncPair(t, blr, boston)
	// Dublin hears of the change and the Japanese title in one packet.
	syncPair(t, blr, dub)
	syncPair(t, dub, boston)
	requireConverged(t, boston, blr, dub)
	for _, s := range sites {
		st, err := multisite.ReadStatus(ctx, s.db)
		require.NoError(t, err)
		if st.CodePage != "UTF-8" {
			t.Errorf("%s code page = %q", s.name, st.CodePage)
		}
	}
	// Narrowing to a page the data does not fit is refused, naming the spot.
	err = multisite.ChangeCodePage(ctx, boston.db, "US-ASCII")
	var ce *multisite.CharsetError
	if !errors.As(err, &ce) || ce.Table != "project" || ce.Key != "JP" {
		t.Fatalf("narrowing: error = %v, want *CharsetError at project[JP]", err)
	}
	if st, _ := multisite.ReadStatus(ctx, boston.db); st.CodePage != "UTF-8" {
		t.Errorf("refused change changed the code page to %q", st.CodePage)
	}
}

func TestChangeCodePage_ReplicaWhoseDataDoesNotFitRefusesUntilCleaned(t *testing.T) {
	sites := newFamilyOn(t, "UTF-8", "boston", "bangalore")
	boston, blr := sites[0], sites[1]
	mustExec(t, blr.db, `INSERT INTO project (code, title) VALUES ('PL', 'Łódź')`) // not yet sent
	require.NoError(t, multisite.ChangeCodePage(ctx, boston.db, "windows-1252"))
	pkt := export(t, boston, blr)
	before := dump(t, blr.db)
	_, err := multisite.ImportPacket(ctx, blr.db, bytes.NewReader(pkt), multisite.ImportOptions{})
	var ce *multisite.CharsetError
	if !errors.As(err, &ce) || ce.Key != "PL" || ce.Char != "Ł" {
		t.Fatalf("error = %v, want *CharsetError for project[PL] 'Ł'", err)
	}
	if st, _ := multisite.ReadStatus(ctx, blr.db); st.CodePage != "UTF-8" {
		t.Errorf("code page changed by a refused import")
	}
	if got := dump(t, blr.db); !bytes.Equal([]byte(toJSON(t, got)), []byte(toJSON(t, before))) {
		t.Errorf("refused import changed data")
	}
	// Bangalore masters the row, so it cleans it; then the change applies.
	mustExec(t, blr.db, `UPDATE project SET title = 'Lodz' WHERE code = 'PL'`)
	importInto(t, blr, pkt)
	syncPair(t, blr, boston)
	requireConverged(t, boston, blr)
}

func TestCleanCharset_DryRunThenAtTheMaster(t *testing.T) {
	sites := newFamilyOn(t, "UTF-8", "boston", "bangalore")
	boston, blr := sites[0], sites[1]
	mustExec(t, boston.db, `UPDATE defect SET headline = 'Résumé “upload” ✓' WHERE id = 1`)
	mustExec(t, blr.db, `INSERT INTO project (code, title) VALUES ('PL', 'Łódź office')`)
	syncPair(t, boston, blr)
	syncPair(t, blr, boston)

	dry, err := multisite.CleanCharset(ctx, boston.db, "windows-1252", multisite.CleanOptions{Strategy: codepage.Transliterate})
	require.NoError(t, err)
	want := []multisite.CleanChange{
		{Table: "defect", Key: "1", Column: "headline", Before: "Résumé “upload” ✓", After: "Résumé “upload” ?", Master: boston.id},
		{Table: "project", Key: "PL", Column: "title", Before: "Łódź office", After: "Lódz office", Master: blr.id},
	}
	if diff := cmp.Diff(want, dry.Changes); diff != "" {
		t.Errorf("dry run (-want +got):\n%s", diff)
	}
	if h := queryString(t, boston.db, `SELECT headline FROM defect WHERE id = 1`); h != "Résumé “upload” ✓" {
		t.Errorf("dry run changed data: %q", h)
	}
	// Each master cleans its own rows; the clean-up replicates.
	for _, s := range sites {
		rep, err := multisite.CleanCharset(ctx, s.db, "windows-1252", multisite.CleanOptions{Strategy: codepage.Transliterate, Apply: true})
		require.NoError(t, err)
		if rep.Applied != 1 || rep.Elsewhere != 1 {
			t.Errorf("%s applied %d, elsewhere %d; want 1 and 1", s.name, rep.Applied, rep.Elsewhere)
		}
	}
	syncPair(t, boston, blr)
	syncPair(t, blr, boston)
	requireConverged(t, boston, blr)
	require.NoError(t, multisite.ChangeCodePage(ctx, boston.db, "windows-1252"))
	syncPair(t, boston, blr)
}

// multilingual is real text in the scripts a family's users write, to be
// stored under every kind of code page.
var multilingual = []struct{ name, text string }{
	{"accented Latin", "Crème brûlée à l'Ærøskøbing, naïve façade — “quoted” 5 €"},
	{"Cyrillic", "Съешь же ещё этих мягких французских булок"},
	{"Greek", "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία"},
	{"Hebrew", "עטלף אבק נס דרך מזגן שהתפוצץ כי חם"},
	{"Arabic", "نص حكيم له سر قاطع وذو شأن عظيم"},
	{"Japanese", "吾輩は猫である。名前はまだ無い。ｶﾀｶﾅ"},
	{"Chinese simplified", "我们在北京开会，讨论数据复制。"},
	{"Chinese traditional", "中華民國，臺灣。資料庫複寫。"},
	{"Korean", "대한민국 서울특별시. 데이터베이스 복제."},
	{"emoji", "ship it 👍🏽 😀"},
	{"ASCII", "plain text, nothing else"},
}

// activateOn seeds the tracker in a fresh database from open and activates
// it as boston under codePage.
func activateOn(t *testing.T, open func(string) *sql.DB, codePage string) *dsite {
	t.Helper()
	boston := newDSite(t, open("boston"), "boston")
	seedTracker(t, boston.db, 3)
	info, err := multisite.Activate(ctx, boston.db, multisite.ActivateOptions{Name: "boston", CodePage: codePage})
	require.NoError(t, err)
	boston.id = info.ID
	return boston
}

// dropCharsetTriggers removes the charset triggers of table, as on a
// replica whose database does not enforce the code page.
func dropCharsetTriggers(t testing.TB, db *sql.DB, table string) {
	t.Helper()
	d := dialectOf(t, db)
	tb, ok, err := d.Describe(ctx, db, table)
	require.NoError(t, err)
	require.True(t, ok, table)
	for _, s := range d.(dialect.CharsetEnforcer).DropCharset(tb) {
		mustExec(t, db, s)
	}
}

// charsetErr turns the error of a plain SQL write into the typed error the
// library makes of it.
// charsetWant is want as d's triggers report it: SQLite's messages are
// literals (SQLite before 3.47 takes nothing else in RAISE), so they name
// table and column only.
func charsetWant(d dialect.Dialect, want multisite.CharsetError) multisite.CharsetError {
	if d.Name() == dialect.SQLite {
		return multisite.CharsetError{Table: want.Table, Column: want.Column}
	}
	return want
}

func charsetErr(t *testing.T, err error) *multisite.CharsetError {
	t.Helper()
	var ce *multisite.CharsetError
	if err := multisite.CharsetFromDriver(err); !errors.As(err, &ce) || !errors.Is(err, multisite.ErrCharset) {
		t.Fatalf("error = %v, want one CharsetFromDriver makes a *CharsetError of", err)
	}
	return ce
}

// TestCharset_DatabaseAgreesWithTheLibrary writes real text in every
// script by plain SQL under code pages of every kind, on every dialect: the
// database accepts exactly what the library's check accepts, and refuses
// the rest naming the same first character and byte offset, leaving the
// table as it was. The code page moves from one to the next by
// ChangeCodePage, which re-points the database's triggers.
func TestCharset_DatabaseAgreesWithTheLibrary(t *testing.T) {
	pages := []string{"windows-1252", "windows-1251", "ISO-8859-7", "windows-1255", "windows-1256", "Shift_JIS", "GBK", "EUC-KR", "Big5", "US-ASCII", "UTF-8"}
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		boston := activateOn(t, open, pages[0])
		for _, page := range pages {
			require.NoError(t, multisite.ChangeCodePage(ctx, boston.db, page))
			cp, err := codepage.Lookup(page)
			require.NoError(t, err)
			for i, m := range multilingual {
				code := fmt.Sprintf("P%d", i)
				want := cp.Check(m.text)
				ins := boston.exec(t, `INSERT INTO project (code, title) VALUES (?, ?)`, code, m.text)
				upd := boston.exec(t, `UPDATE defect SET headline = ? WHERE id = 1`, m.text)
				if want == nil {
					if ins != nil || upd != nil {
						t.Errorf("%s, %s: refused text the code page holds: insert %v, update %v", page, m.name, ins, upd)
					}
					if got := boston.query(t, `SELECT title FROM project WHERE code = ?`, code); got != m.text {
						t.Errorf("%s, %s: stored %q", page, m.name, got)
					}
					boston.mustExec(t, `DELETE FROM project WHERE code = ?`, code)
					boston.mustExec(t, `UPDATE defect SET headline = 'defect number 1' WHERE id = 1`)
					continue
				}
				for _, w := range []struct {
					err                error
					key, column, table string
				}{{ins, code, "title", "project"}, {upd, "1", "headline", "defect"}} {
					if w.err == nil {
						t.Errorf("%s, %s: the database took %U, which the code page lacks", page, m.name, want[0].Rune)
						continue
					}
					ce := charsetErr(t, w.err)
					wantErr := charsetWant(boston.d, multisite.CharsetError{CodePage: cp.Name(), Table: w.table, Key: w.key, Column: w.column,
						Offset: want[0].Offset, Rune: want[0].Rune, Char: want[0].Bytes})
					if diff := cmp.Diff(wantErr, *ce); diff != "" {
						t.Errorf("%s, %s (-want +got):\n%s", page, m.name, diff)
					}
				}
				if n := boston.query(t, `SELECT count(*) FROM project WHERE code = ?`, code); n != "0" {
					t.Errorf("%s, %s: a refused insert left %s rows", page, m.name, n)
				}
				if h := boston.query(t, `SELECT headline FROM defect WHERE id = 1`); h != "defect number 1" {
					t.Errorf("%s, %s: a refused update changed the headline to %q", page, m.name, h)
				}
			}
		}
	})
}

// TestCharset_PlainSQLRefusedAtEveryReplica: under windows-1252, a user's
// plain SQL write of Cyrillic is refused by the database at the first
// replica and at one created from a packet, as a typed error naming table,
// key, column and character, with nothing changed; legal accented text
// passes and replicates. A change of code page, made at one replica and
// imported at the other, re-points both databases.
func TestCharset_PlainSQLRefusedAtEveryReplica(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		boston := activateOn(t, open, "windows-1252")
		tokyo := replicateTo(t, boston, open("tokyo"), "tokyo")
		dsync(t, tokyo, boston)
		for _, s := range []*dsite{boston, tokyo} {
			st, err := multisite.ReadCharsetStatus(ctx, s.db)
			require.NoError(t, err)
			want := &multisite.CharsetStatus{CodePage: "windows-1252", InDatabase: true, Enforced: "windows-1252", Tables: []string{"defect", "defect_tag", "project"}}
			if diff := cmp.Diff(want, st); diff != "" {
				t.Errorf("%s: charset status (-want +got):\n%s", s.name, diff)
			}
		}

		// New rows at tokyo (created from a packet), existing ones at boston
		// (which masters them).
		before := []map[string][]map[string]any{dumpPortable(t, boston), dumpPortable(t, tokyo)}
		refused := []struct {
			at   *dsite
			q    string
			args []any
			want multisite.CharsetError
		}{
			{tokyo, `INSERT INTO project (code, title) VALUES (?, ?)`, []any{"RU", "Москва office"},
				multisite.CharsetError{Table: "project", Key: "RU", Column: "title", Offset: 0, Rune: 'М', Char: "М"}},
			{tokyo, `INSERT INTO project (code, title) VALUES (?, ?)`, []any{"ЖK", "key in Cyrillic"},
				multisite.CharsetError{Table: "project", Key: "ЖK", Column: "code", Offset: 0, Rune: 'Ж', Char: "Ж"}},
			{boston, `UPDATE defect SET owner = ? WHERE id = 2`, []any{"Zoë Ж"},
				multisite.CharsetError{Table: "defect", Key: "2", Column: "owner", Offset: 5, Rune: 'Ж', Char: "Ж"}},
			{boston, `UPDATE defect_tag SET note = ? WHERE tag = 'perf'`, []any{"slow 🐢"},
				multisite.CharsetError{Table: "defect_tag", Key: "2,perf", Column: "note", Offset: 5, Rune: '🐢', Char: "🐢"}},
		}
		for _, r := range refused {
			ce := charsetErr(t, r.at.exec(t, r.q, r.args...))
			r.want.CodePage = "windows-1252"
			if diff := cmp.Diff(charsetWant(r.at.d, r.want), *ce); diff != "" {
				t.Errorf("%s at %s (-want +got):\n%s", r.q, r.at.name, diff)
			}
		}
		for i, s := range []*dsite{boston, tokyo} {
			if diff := cmp.Diff(before[i], dumpPortable(t, s)); diff != "" {
				t.Errorf("refused writes changed %s (-before +after):\n%s", s.name, diff)
			}
		}
		// Legal text passes, and an update that leaves a text column alone
		// is not checked again.
		tokyo.mustExec(t, `INSERT INTO project (code, title) VALUES ('FR', 'Crème brûlée – “€”')`)
		boston.mustExec(t, `UPDATE defect SET severity = 4, owner = 'Zoë' WHERE id = 2`)
		dsync(t, boston, tokyo)
		dsync(t, tokyo, boston)
		dconverged(t, boston, tokyo)

		// Cyrillic becomes legal everywhere once the family changes to
		// windows-1251, and accented Latin illegal. The data must fit the
		// new page first.
		tokyo.mustExec(t, `DELETE FROM project WHERE code = 'FR'`)
		boston.mustExec(t, `UPDATE defect SET owner = 'alice' WHERE id = 2`)
		dsync(t, tokyo, boston)
		dsync(t, boston, tokyo)
		require.NoError(t, multisite.ChangeCodePage(ctx, boston.db, "1251"))
		boston.mustExec(t, `INSERT INTO project (code, title) VALUES ('RU', 'Москва office')`)
		if rep := dsync(t, boston, tokyo); rep.CodePage != "windows-1251" {
			t.Errorf("tokyo's import reports code page %q, want windows-1251", rep.CodePage)
		}
		tokyo.mustExec(t, `INSERT INTO project (code, title) VALUES ('RU2', 'Санкт-Петербург')`)
		ce := charsetErr(t, tokyo.exec(t, `INSERT INTO project (code, title) VALUES ('FR', 'Crème')`))
		if want := charsetWant(tokyo.d, multisite.CharsetError{CodePage: "windows-1251", Table: "project", Key: "FR", Column: "title", Offset: 2, Rune: 'è', Char: "è"}); *ce != want {
			t.Errorf("after the change: %v, want 'è' at byte 2 outside windows-1251", ce)
		}
		dsync(t, tokyo, boston)
		dconverged(t, boston, tokyo)
	})
}

// TestCharset_PlanAndDeactivation: the activation plan shows the charset
// enforcement (code page row and triggers) and deactivation removes it, so
// that plain SQL takes any text again and nothing of the library is left.
func TestCharset_PlanAndDeactivation(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		db := open("boston")
		seedTracker(t, db, 2)
		plan, err := multisite.PlanActivation(ctx, db, multisite.ActivateOptions{Name: "boston", CodePage: "Shift_JIS"})
		require.NoError(t, err)
		d := dialectOf(t, db)
		e := d.(dialect.CharsetEnforcer)
		text := plan.String()
		for _, want := range append([]string{"data code page Shift_JIS", "CREATE TABLE ms_charset", "INSERT INTO ms_charset"},
			append(e.CharsetTriggerNames(dialect.Table{Name: "project", Columns: []dialect.Column{{Name: "title", Type: "TEXT"}}}), "charset triggers")...) {
			if !strings.Contains(text, want) {
				t.Errorf("activation plan lacks %q", want)
			}
		}
		info, err := multisite.Activate(ctx, db, multisite.ActivateOptions{Name: "boston", CodePage: "Shift_JIS"})
		require.NoError(t, err)
		s := &dsite{site: site{name: "boston", db: db, id: info.ID}, d: d}
		ce := charsetErr(t, s.exec(t, `INSERT INTO project (code, title) VALUES ('KR', '서울')`))
		if want := charsetWant(d, multisite.CharsetError{CodePage: "Shift_JIS", Table: "project", Key: "KR", Column: "title", Rune: '서', Char: "서"}); *ce != want {
			t.Errorf("Korean under Shift_JIS: %v", ce)
		}
		s.mustExec(t, `INSERT INTO project (code, title) VALUES ('JP', '東京')`)

		dp, err := multisite.PlanDeactivation(ctx, db)
		require.NoError(t, err)
		if !strings.Contains(dp.String(), "DROP TABLE IF EXISTS ms_charset") {
			t.Errorf("deactivation plan does not remove ms_charset:\n%s", dp)
		}
		require.NoError(t, multisite.Deactivate(ctx, db))
		s.mustExec(t, `INSERT INTO project (code, title) VALUES ('KR', '서울')`)
		if objs := libraryObjects(t, db); len(objs) > 0 {
			t.Errorf("deactivation left %v", objs)
		}
	})
}

// TestCharset_EnforceReinstalls: a replica whose charset triggers are gone
// (dropped by hand, or activated by an older library) says so in its
// status, and EnforceCharset puts them back.
func TestCharset_EnforceReinstalls(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		boston := activateOn(t, open, "windows-1252")
		dropCharsetTriggers(t, boston.db, "project")
		boston.mustExec(t, `INSERT INTO project (code, title) VALUES ('RU', 'Москва')`) // nothing stops it now
		boston.mustExec(t, `DELETE FROM project WHERE code = 'RU'`)
		st, err := multisite.ReadCharsetStatus(ctx, boston.db)
		require.NoError(t, err)
		if st.InDatabase || !cmp.Equal([]string{"project"}, st.Missing) {
			t.Errorf("status with project's triggers dropped: %+v", st)
		}
		require.NoError(t, multisite.EnforceCharset(ctx, boston.db))
		if st, err := multisite.ReadCharsetStatus(ctx, boston.db); err != nil || !st.InDatabase || len(st.Missing) > 0 {
			t.Errorf("status after EnforceCharset: %+v, %v", st, err)
		}
		charsetErr(t, boston.exec(t, `INSERT INTO project (code, title) VALUES ('RU', 'Москва')`))
	})
}

// TestCharset_ImportRefusesMalformedUTF8: SQLite stores whatever bytes a
// client binds as text, so a SQLite replica can hold invalid UTF-8 and
// lone surrogates that its UTF-8 family's triggers have nothing to match
// against; the importing replica, of any dialect, refuses them, naming the
// byte, with nothing changed.
func TestCharset_ImportRefusesMalformedUTF8(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		boston := activateOn(t, open, "UTF-8")
		tokyo := replicateTo(t, boston, testdb.SQLite(t, "tokyo"), "tokyo")
		dsync(t, tokyo, boston)
		for _, tt := range []struct {
			name, text string
			want       codepage.Violation
		}{
			{"invalid byte", "a\xffb", codepage.Violation{Offset: 1, Rune: utf8.RuneError, Bytes: "\xff"}},
			{"lone surrogate", "x\xed\xa0\x80y", codepage.Violation{Offset: 1, Rune: utf8.RuneError, Bytes: "\xed\xa0\x80"}},
		} {
			tokyo.mustExec(t, `INSERT INTO project (code, title) VALUES ('BAD', ?)`, tt.text)
			before := dumpPortable(t, boston)
			_, err := multisite.ImportPacket(ctx, boston.db, bytes.NewReader(dexport(t, tokyo, boston)), multisite.ImportOptions{})
			var ce *multisite.CharsetError
			if !errors.As(err, &ce) {
				t.Fatalf("%s: import error = %v, want *CharsetError", tt.name, err)
			}
			want := multisite.CharsetError{CodePage: "UTF-8", Table: "project", Key: "BAD", Column: "title", Offset: tt.want.Offset, Rune: tt.want.Rune, Char: tt.want.Bytes}
			if diff := cmp.Diff(want, *ce); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tt.name, diff)
			}
			if diff := cmp.Diff(before, dumpPortable(t, boston)); diff != "" {
				t.Errorf("%s: refused import changed boston:\n%s", tt.name, diff)
			}
			// Cleaned at its master, the row travels.
			rep, err := multisite.CleanCharset(ctx, tokyo.db, "UTF-8", multisite.CleanOptions{Strategy: codepage.Replace, Apply: true})
			require.NoError(t, err)
			if rep.Applied != 1 {
				t.Errorf("%s: clean-up applied %d changes, want 1", tt.name, rep.Applied)
			}
			drecover(t, tokyo, boston) // boston refused the last packet
			dconverged(t, boston, tokyo)
			tokyo.mustExec(t, `DELETE FROM project WHERE code = 'BAD'`)
			dsync(t, tokyo, boston)
		}
	})
}

// TestCharset_MariaDBUtf8mb3CannotStoreEmoji: a MariaDB replica whose
// column is utf8mb3 cannot store characters beyond U+FFFF although the
// family's code page is UTF-8. Its validation and status name the column;
// an import carrying an emoji for it, written at a SQLite replica, is
// refused naming table, key, column, character and the column's character
// set, with nothing changed; once the emoji is cleaned at its master the
// family converges.
func TestCharset_MariaDBUtf8mb3CannotStoreEmoji(t *testing.T) {
	boston := newDSite(t, testdb.MySQL(t, "boston"), "boston")
	boston.mustExec(t, `CREATE TABLE project (code VARCHAR(32) PRIMARY KEY, title VARCHAR(200) CHARACTER SET utf8mb3 NOT NULL, note TEXT CHARACTER SET utf8mb4)`)
	boston.mustExec(t, `INSERT INTO project (code, title, note) VALUES ('CORE', 'Core engine – 東京', 'ok')`)
	info, err := multisite.Activate(ctx, boston.db, multisite.ActivateOptions{Name: "boston"})
	require.NoError(t, err)
	boston.id = info.ID
	narrow := []multisite.NarrowColumn{{Table: "project", Column: "title", Charset: "utf8mb3"}}
	rep, err := multisite.ValidateCharset(ctx, boston.db, "UTF-8", multisite.CharsetOptions{Tables: []string{"project"}})
	require.NoError(t, err)
	if diff := cmp.Diff(narrow, rep.Columns); diff != "" || len(rep.Violations) > 0 {
		t.Errorf("ValidateCharset columns (-want +got):\n%s\nviolations: %v", diff, rep.Violations)
	}
	st, err := multisite.ReadCharsetStatus(ctx, boston.db)
	require.NoError(t, err)
	if diff := cmp.Diff(narrow, st.Columns); diff != "" {
		t.Errorf("status columns (-want +got):\n%s", diff)
	}
	// Under a code page without supplementary characters the column is
	// wide enough.
	if rep, err := multisite.ValidateCharset(ctx, boston.db, "windows-1252", multisite.CharsetOptions{Tables: []string{"project"}}); err != nil || len(rep.Columns) > 0 {
		t.Errorf("under windows-1252: columns %v, %v", rep.Columns, err)
	}

	tokyo := replicateTo(t, boston, testdb.SQLite(t, "tokyo"), "tokyo")
	dsync(t, tokyo, boston)
	tokyo.mustExec(t, `INSERT INTO project (code, title, note) VALUES ('EMO', 'ship it 😀', 'note 😀')`)
	before := dumpPortable(t, boston)
	_, err = multisite.ImportPacket(ctx, boston.db, bytes.NewReader(dexport(t, tokyo, boston)), multisite.ImportOptions{})
	var ce *multisite.CharsetError
	if !errors.As(err, &ce) || !errors.Is(err, multisite.ErrCharset) {
		t.Fatalf("import error = %v, want *CharsetError", err)
	}
	want := multisite.CharsetError{CodePage: "UTF-8", Table: "project", Key: "EMO", Column: "title", Offset: 8, Rune: '😀', Char: "😀", Storage: "utf8mb3"}
	if diff := cmp.Diff(want, *ce); diff != "" {
		t.Errorf("CharsetError (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, dumpPortable(t, boston)); diff != "" {
		t.Errorf("refused import changed boston (-before +after):\n%s", diff)
	}
	// The note column is utf8mb4 and takes the emoji; tokyo masters the
	// row, so it cleans the title and the family converges.
	tokyo.mustExec(t, `UPDATE project SET title = 'ship it :)' WHERE code = 'EMO'`)
	drecover(t, tokyo, boston) // boston refused the last packet
	dconverged(t, boston, tokyo)
	if got := boston.query(t, `SELECT note FROM project WHERE code = 'EMO'`); got != "note 😀" {
		t.Errorf("boston's utf8mb4 note = %q", got)
	}
}

func TestCharsetFromDriver(t *testing.T) {
	msg := "multisite: charset: project[RU,2].title has U+0416 at byte 3, outside code page windows-1252"
	want := &multisite.CharsetError{CodePage: "windows-1252", Table: "project", Key: "RU,2", Column: "title", Offset: 3, Rune: 'Ж', Char: "Ж"}
	tests := []struct {
		name string
		err  error
		want *multisite.CharsetError
	}{
		{"sqlite before format 5", errors.New(msg + " (1811)"), want},
		{"sqlite literal", errors.New("multisite: charset: defect_tag.note has a character outside the data code page (1811)"),
			&multisite.CharsetError{Table: "defect_tag", Column: "note"}},
		{"postgres", errors.New("ERROR: " + strings.Replace(msg, "U+0416", "U+0416 'Ж'", 1) + " (SQLSTATE 22021)"), want},
		{"mysql", errors.New("Error 1644 (22021): " + msg), want},
		{"supplementary", errors.New("multisite: charset: t[1].c has U+1F600 at byte 0, outside code page Shift_JIS"),
			&multisite.CharsetError{CodePage: "Shift_JIS", Table: "t", Key: "1", Column: "c", Rune: '😀', Char: "😀"}},
		{"quote in a PostgreSQL key", errors.New("ERROR: multisite: charset: t[it's].c has U+00E9 'é' at byte 2, outside code page US-ASCII (SQLSTATE 22021)"),
			&multisite.CharsetError{CodePage: "US-ASCII", Table: "t", Key: "it's", Column: "c", Offset: 2, Rune: 'é', Char: "é"}},
		{"not a charset error", errors.New("ERROR: duplicate key value violates unique constraint"), nil},
		{"a surrogate is no character", errors.New("multisite: charset: t[1].c has U+D800 at byte 0, outside code page UTF-8"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := multisite.CharsetFromDriver(tt.err)
			var ce *multisite.CharsetError
			if tt.want == nil {
				if got != tt.err {
					t.Errorf("CharsetFromDriver(%v) = %v, want the error unchanged", tt.err, got)
				}
				return
			}
			if !errors.As(got, &ce) || !errors.Is(got, multisite.ErrCharset) {
				t.Fatalf("CharsetFromDriver(%v) = %v, want *CharsetError", tt.err, got)
			}
			if diff := cmp.Diff(tt.want, ce); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if multisite.CharsetFromDriver(nil) != nil {
		t.Errorf("CharsetFromDriver(nil) is not nil")
	}
}

// TestCharset_MigrationKeepsEnforcement: a migration that adds a text
// column, creates a table and drops a text column (which SQLite refuses
// while a trigger names the column) leaves the database enforcing the code
// page on the new column and table too.
func TestCharset_MigrationKeepsEnforcement(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		boston := activateOn(t, open, "windows-1252")
		_, err := multisite.Migrate(ctx, boston.db, []schema.Migration{
			{Version: 1, Name: "project_note", Up: `ALTER TABLE project ADD COLUMN note VARCHAR(100)`},
			{Version: 2, Name: "milestone", Up: `CREATE TABLE milestone (id BIGINT PRIMARY KEY, title VARCHAR(50) NOT NULL)`},
			{Version: 3, Name: "drop_owner", Up: `ALTER TABLE defect DROP COLUMN owner`},
		}, multisite.MigrateOptions{})
		require.NoError(t, err)
		for _, r := range []struct {
			q                  string
			table, key, column string
		}{
			{`INSERT INTO project (code, title, note) VALUES ('RU', 'Moscow', 'Москва')`, "project", "RU", "note"},
			{`INSERT INTO milestone (id, title) VALUES (7, 'Ж release')`, "milestone", "7", "title"},
			{`UPDATE defect SET headline = 'Жук' WHERE id = 1`, "defect", "1", "headline"},
		} {
			ce := charsetErr(t, boston.exec(t, r.q))
			if boston.d.Name() == dialect.SQLite && (ce.Table != r.table || ce.Column != r.column) ||
				boston.d.Name() != dialect.SQLite && (ce.Table != r.table || ce.Key != r.key || ce.Column != r.column || ce.Rune != 'М' && ce.Rune != 'Ж') {
				t.Errorf("%s: %v, want %s[%s].%s", r.q, ce, r.table, r.key, r.column)
			}
		}
		boston.mustExec(t, `INSERT INTO project (code, title, note) VALUES ('FR', 'Paris', 'Crème')`)
		boston.mustExec(t, `INSERT INTO milestone (id, title) VALUES (7, 'Zoë release')`)
		st, err := multisite.ReadCharsetStatus(ctx, boston.db)
		require.NoError(t, err)
		if !st.InDatabase || !cmp.Equal([]string{"defect", "defect_tag", "milestone", "project"}, st.Tables) {
			t.Errorf("status after the migrations: %+v", st)
		}
	})
}
