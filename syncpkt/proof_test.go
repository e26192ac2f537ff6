package syncpkt_test

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	"github.com/multisite-go/multisite/syncpkt"
)

func TestRowMessage_ColumnOrderAndNulls(t *testing.T) {
	cols := []syncpkt.Column{{Name: "id", Type: "integer", Key: 1}, {Name: "title", Type: "text"}, {Name: "note", Type: "text"}}
	row := &syncpkt.Row{Version: 3, Master: "a", Origin: "a", Creator: "b", Epoch: 7,
		Values: []syncpkt.Value{syncpkt.Int(1), syncpkt.Text("x"), syncpkt.Null()}}
	swapped := []syncpkt.Column{cols[1], cols[0]}
	row2 := &syncpkt.Row{Version: 3, Master: "a", Origin: "a", Creator: "b", Epoch: 7,
		Values: []syncpkt.Value{syncpkt.Text("x"), syncpkt.Int(1)}}
	m1 := syncpkt.RowMessage("fam", "defect", cols, row)
	if m2 := syncpkt.RowMessage("fam", "defect", swapped, row2); !bytes.Equal(m1, m2) {
		t.Errorf("column order or a null column changed the message")
	}
	if syncpkt.RowMessage("fam", "defect", cols[:2], row) != nil {
		t.Errorf("a row with more values than columns has a message")
	}
	// Every field that carries authority changes the message.
	changes := map[string]func(r *syncpkt.Row){
		"version": func(r *syncpkt.Row) { r.Version++ },
		"master":  func(r *syncpkt.Row) { r.Master = "z" },
		"origin":  func(r *syncpkt.Row) { r.Origin = "z" },
		"creator": func(r *syncpkt.Row) { r.Creator = "z" },
		"epoch":   func(r *syncpkt.Row) { r.Epoch++ },
		"deleted": func(r *syncpkt.Row) { r.Deleted = true },
		"value":   func(r *syncpkt.Row) { r.Values[1] = syncpkt.Text("y") },
		"null":    func(r *syncpkt.Row) { r.Values[1] = syncpkt.Null() },
	}
	for name, change := range changes {
		r := *row
		r.Values = append([]syncpkt.Value(nil), row.Values...)
		change(&r)
		if bytes.Equal(m1, syncpkt.RowMessage("fam", "defect", cols, &r)) {
			t.Errorf("changing the %s leaves the message as it was", name)
		}
	}
	if bytes.Equal(m1, syncpkt.RowMessage("other", "defect", cols, row)) || bytes.Equal(m1, syncpkt.RowMessage("fam", "other", cols, row)) {
		t.Errorf("family or table does not change the message")
	}
	// Swapping values between columns changes it.
	row3 := &syncpkt.Row{Version: 3, Master: "a", Origin: "a", Creator: "b", Epoch: 7,
		Values: []syncpkt.Value{syncpkt.Int(1), syncpkt.Null(), syncpkt.Text("x")}}
	if bytes.Equal(m1, syncpkt.RowMessage("fam", "defect", cols, row3)) {
		t.Errorf("a value moved to another column leaves the message as it was")
	}
}

func TestProofMessages_DomainSeparated(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	x := &syncpkt.Transfer{Table: "t", Key: []syncpkt.Value{syncpkt.Int(1)}, Version: 2, From: "a", To: "b", Epoch: 3}
	s := &syncpkt.Setting{Key: "k", Value: "v", Signer: "a"}
	r := &syncpkt.Replica{ID: "a", Name: "a", PublicKey: pub, State: "active", Version: 1, Signer: "a"}
	e := &syncpkt.Sealed{Replica: "a", Epoch: 9}
	msgs := [][]byte{syncpkt.TransferMessage("f", x), syncpkt.SettingMessage("f", s), syncpkt.ReplicaMessage("f", r), syncpkt.SealedMessage("f", e)}
	for i, m := range msgs {
		sig := ed25519.Sign(priv, m)
		for j, o := range msgs {
			if i != j && ed25519.Verify(pub, o, sig) {
				t.Errorf("a proof of message %d verifies message %d", i, j)
			}
		}
		if !ed25519.Verify(pub, m, sig) {
			t.Errorf("message %d does not verify", i)
		}
	}
	x2 := *x
	x2.To = "c"
	if bytes.Equal(syncpkt.TransferMessage("f", x), syncpkt.TransferMessage("f", &x2)) {
		t.Errorf("the transfer's To is not in its message")
	}
}
