package multisite_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/codepage"
	"github.com/multisite-go/multisite/replica"
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
