package engine

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/multisite-go/multisite/codepage"
	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/schema"
	"github.com/multisite-go/multisite/syncpkt"
)

// settingCodePage is the Setting record that carries the family's data code
// page in every packet: "VERSION NAME". A higher version is a change that
// every replica takes once its own data validates clean under it.
const settingCodePage = "code_page"

func codePageSetting(c *Ctl) *syncpkt.Setting {
	return &syncpkt.Setting{Key: settingCodePage, Value: fmt.Sprintf("%d %s", c.CodePageVer, c.CodePage)}
}

func parseCodePageSetting(v string) (uint64, *codepage.CodePage, error) {
	ver, name, ok := strings.Cut(v, " ")
	n, err := strconv.ParseUint(ver, 10, 64)
	if !ok || err != nil {
		return 0, nil, fmt.Errorf("%w: code page setting %q", ErrPacket, v)
	}
	cp, err := codepage.Lookup(name)
	if err != nil {
		return 0, nil, err
	}
	return n, cp, nil
}

// checkLocalCharset returns a *CharsetError for the first string of the
// replicated tables that cp cannot represent.
func checkLocalCharset(ctx context.Context, q dialect.Querier, d dialect.Dialect, cp *codepage.CodePage) (int, error) {
	tables, err := Tables(ctx, q)
	if err != nil {
		return 0, err
	}
	var names []string
	for _, t := range tables {
		names = append(names, t.Name)
	}
	if names == nil {
		return 0, nil
	}
	rep, err := ValidateCharset(ctx, q, d, cp, CharsetOptions{Tables: names, Max: 1})
	if err != nil {
		return 0, err
	}
	if len(rep.Violations) == 0 {
		return 0, nil
	}
	v := rep.Violations[0]
	n := len(rep.Violations)
	if rep.Truncated {
		n = -1
	}
	return n, &CharsetError{CodePage: cp.Name(), Table: v.Table, Key: v.Key, Column: v.Column, Offset: v.Offset, Rune: v.Rune, Char: v.Char}
}

// ChangeCodePage changes the family's data code page. The local data must
// validate clean under the new page; the change then travels in every
// packet, and each replica takes it once its own data validates clean too
// (until then its imports fail with a *CharsetError naming what to clean).
// No replica has to be re-created.
func ChangeCodePage(ctx context.Context, db *sql.DB, d dialect.Dialect, name string) (*codepage.CodePage, error) {
	cp, err := codepage.Lookup(name)
	if err != nil {
		return nil, err
	}
	err = inTx(ctx, db, d, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE ms_ctl SET epoch = epoch`); err != nil { // take the write lock
			return err
		}
		c, err := LoadCtl(ctx, tx, d)
		if err != nil {
			return err
		}
		if c.CodePage == cp.Name() {
			return nil
		}
		// The family's code page is the schema master's to change: every
		// replica takes a change only with its proof.
		master, err := SchemaMaster(ctx, tx)
		if err != nil {
			return err
		}
		if master != c.Local {
			return &schema.NotSchemaMasterError{Local: string(c.Local), Master: string(master)}
		}
		if _, err := checkLocalCharset(ctx, tx, d, cp); err != nil {
			return fmt.Errorf("multisite: cannot change the code page to %s; clean the data first: %w", cp.Name(), err)
		}
		if _, err := tx.ExecContext(ctx, d.Rebind(`UPDATE ms_ctl SET code_page = ?, code_page_version = code_page_version + 1`), cp.Name()); err != nil {
			return err
		}
		return setCharset(ctx, tx, d, cp)
	})
	if err != nil {
		return nil, err
	}
	return cp, nil
}

// codePageProof checks that the schema master entitled to code page
// version ver (by the chain of schema masters, see masterForCodePage)
// proved s, and stores the proof for forwarding. A change without it is
// refused with ErrAuthority; the proof of the version this replica has
// already is stored if it lacked one.
func (m *importer) codePageProof(s *syncpkt.Setting, ver uint64) error {
	chain, err := loadChain(m.ctx, m.tx)
	if err != nil {
		return err
	}
	want := masterForCodePage(chain, ver)
	if err := checkSetting(m.reg, m.ctl.Family, s, want, "code page change to "+s.Value); err != nil {
		if ver == m.ctl.CodePageVer {
			return nil // nothing new: an unproven copy changes nothing
		}
		return err
	}
	if ver == m.ctl.CodePageVer {
		if _, _, ok, err := loadProof(m.ctx, m.tx, m.d, proofCodePage); err != nil || ok {
			return err
		}
	}
	return saveProof(m.ctx, m.tx, m.d, proofCodePage, s.Signer, s.Proof)
}
