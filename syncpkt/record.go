package syncpkt

// Record is one item in the body of a packet. The concrete types are
// [*Table], [*Row], [*Transfer], [*Replica], [*Setting], [*Invite] and
// [*Sealed]:
// [Writer.Write] takes pointers and [Reader.Next] returns pointers, so a type
// switch on a Record lists pointer types (a case for a non-pointer type does
// not compile).
type Record interface {
	isRecord()
}

// Column describes one column of a replicated table in portable terms.
type Column struct {
	Name    string
	Type    string // portable type name; its meaning is the schema's business
	NotNull bool
	Key     int    // 1-based position in the primary key, 0 = not part of it
	Default string // the column's default as an SQL expression; "" means none
}

// Table starts the rows of one table: every [Row] after it, until the next
// Table, belongs to it. A Table has at least one column and one key column;
// column names are unique, and the non-zero Keys are exactly 1…k.
type Table struct {
	Name    string
	Columns []Column
	Create  bool // true in creation packets: the receiver creates the table
}

// Row is the current image of one row, or its tombstone.
type Row struct {
	Version uint64  // row version; only increases along the row's chain
	Master  string  // replica that masters the row after this version
	Origin  string  // replica that made this version
	Creator string  // replica that created the row: identifies its chain
	Epoch   uint64  // origin's epoch the version was sealed in
	Deleted bool    // tombstone: only the key columns of Values are meaningful, others Null
	Values  []Value // one per column of the current Table, in column order
	// Proof is Origin's ed25519 signature over [RowMessage] of this image
	// (version 3): it stays verifiable however many replicas forward the
	// row. Empty when the origin's proof is not known.
	Proof []byte
}

// Transfer is one mastership change of one row, kept in the log because
// state images alone cannot prove a chain.
type Transfer struct {
	Table    string
	Key      []Value // primary key values, in key order
	Version  uint64
	From, To string
	Epoch    uint64
	// Proof is From's ed25519 signature over [TransferMessage] (version
	// 3): only the replica that mastered the row may hand it on.
	Proof []byte
}

// Replica is one entry of the family registry. (The name repeats the
// package's subject because the registry entry is what the family calls a
// replica; there is no better noun.)
type Replica struct {
	ID, Name  string
	Number    int64
	PublicKey []byte
	State     string
	Version   uint64
	// KeySig endorses PublicKey after a key rotation: the replica's
	// previous key signed it (see the package doc of multisite's engine
	// for the message). Empty for an entry whose key never changed.
	KeySig []byte
	// Incarnation counts the replica's restores from backup; a higher
	// incarnation replaces an entry whatever its Version.
	Incarnation uint64
	// Signer is the replica whose key made Proof (version 3): the entry's
	// own replica, or the replica the rules let decide the entry (its
	// creator for a creation, the remover for a removal).
	Signer string
	// Proof is Signer's ed25519 signature over [ReplicaMessage].
	Proof []byte
}

// Setting is one family-level key/value pair (code page, settings), mostly
// in creation packets.
type Setting struct {
	Key, Value string
	// Signer is the replica whose key made Proof (version 3); empty for a
	// setting no one vouches for (such as [PartsSetting]).
	Signer string
	// Proof is Signer's ed25519 signature over [SettingMessage]: a code
	// page change or a migration is taken only from the schema master.
	Proof []byte
}

// Invite carries a one-time secret in a creation packet (version 3): the
// new replica makes its own key pair and proves itself to its creator with
// the secret, once. No packet carries a private key.
type Invite struct {
	Secret []byte
}

// Sealed is a replica's signed statement that it has sealed its epochs up
// to Epoch (version 3). A receiver believes an epoch claim about a replica
// (in a header's Upto) only as far as a statement of that replica's own
// vouches for it, so a forwarding replica cannot claim epochs for another.
type Sealed struct {
	Replica string
	Epoch   uint64
	// Proof is Replica's ed25519 signature over [SealedMessage].
	Proof []byte
}

func (*Table) isRecord()    {}
func (*Row) isRecord()      {}
func (*Transfer) isRecord() {}
func (*Replica) isRecord()  {}
func (*Setting) isRecord()  {}
func (*Invite) isRecord()   {}
func (*Sealed) isRecord()   {}

var (
	_ Record = (*Table)(nil)
	_ Record = (*Row)(nil)
	_ Record = (*Transfer)(nil)
	_ Record = (*Replica)(nil)
	_ Record = (*Setting)(nil)
	_ Record = (*Invite)(nil)
	_ Record = (*Sealed)(nil)
)

// Minimum encoded sizes of list items, to bound counts by frame length.
const (
	minColumnSize = 5 // name length, type length, not-null, key, default length
)

func (t *Table) check() error {
	if t.Name == "" {
		return errString("table name is empty")
	}
	if len(t.Columns) == 0 {
		return errf("table %q has no columns", t.Name)
	}
	names := make(map[string]bool, len(t.Columns))
	keys := make([]bool, len(t.Columns)+1)
	nkeys := 0
	for i, c := range t.Columns {
		switch {
		case c.Name == "":
			return errf("table %q: column %d has no name", t.Name, i)
		case names[c.Name]:
			return errf("table %q: duplicate column %q", t.Name, c.Name)
		case c.Key < 0 || c.Key > len(t.Columns):
			return errf("table %q: column %q has key position %d", t.Name, c.Name, c.Key)
		case c.Key > 0 && keys[c.Key]:
			return errf("table %q: column %q repeats key position %d", t.Name, c.Name, c.Key)
		}
		names[c.Name] = true
		if c.Key > 0 {
			keys[c.Key] = true
			nkeys++
		}
	}
	if nkeys == 0 {
		return errf("table %q has no key column", t.Name)
	}
	for k := 1; k <= nkeys; k++ {
		if !keys[k] {
			return errf("table %q: key position %d missing", t.Name, k)
		}
	}
	return nil
}

// check reports a row that does not fit the current table t.
func (r *Row) check(t *Table) error {
	if t == nil {
		return errString("row before any table")
	}
	if len(r.Values) != len(t.Columns) {
		return errf("table %q: row has %d values, want %d", t.Name, len(r.Values), len(t.Columns))
	}
	if err := checkProof(r.Proof); err != nil {
		return err
	}
	return checkValues(r.Values)
}

func (x *Transfer) check() error {
	if x.Table == "" {
		return errString("transfer table is empty")
	}
	if len(x.Key) == 0 {
		return errf("transfer in table %q has no key", x.Table)
	}
	if err := checkProof(x.Proof); err != nil {
		return err
	}
	return checkValues(x.Key)
}

func (r *Replica) check() error {
	if r.ID == "" {
		return errString("replica ID is empty")
	}
	if (r.Signer == "") != (len(r.Proof) == 0) {
		return errString("replica entry has a signer without a proof or a proof without a signer")
	}
	return checkProof(r.Proof)
}

func (s *Setting) check() error {
	if s.Key == "" {
		return errString("setting key is empty")
	}
	if (s.Signer == "") != (len(s.Proof) == 0) {
		return errString("setting has a signer without a proof or a proof without a signer")
	}
	return checkProof(s.Proof)
}

func (v *Invite) check() error {
	if len(v.Secret) == 0 {
		return errString("invite secret is empty")
	}
	return nil
}

func (s *Sealed) check() error {
	if s.Replica == "" {
		return errString("sealed statement has no replica")
	}
	return checkProof(s.Proof)
}

// checkProof refuses a proof that is neither empty nor a signature.
func checkProof(p []byte) error {
	if len(p) != 0 && len(p) != SignatureSize {
		return errf("proof of %d bytes, want 0 or %d", len(p), SignatureSize)
	}
	return nil
}

func checkValues(vs []Value) error {
	for i := range vs {
		if err := vs[i].check(); err != nil {
			return err
		}
	}
	return nil
}

func appendTable(b []byte, t *Table) []byte {
	b = appendString(b, t.Name)
	b = appendBool(b, t.Create)
	b = appendUvarint(b, uint64(len(t.Columns)))
	for _, c := range t.Columns {
		b = appendString(b, c.Name)
		b = appendString(b, c.Type)
		b = appendBool(b, c.NotNull)
		b = appendUvarint(b, uint64(c.Key))
		b = appendString(b, c.Default)
	}
	return b
}

func decodeTable(d *decoder) (*Table, error) {
	t := &Table{Name: d.str(), Create: d.boolean()}
	if n := d.count(minColumnSize); n > 0 {
		t.Columns = make([]Column, n)
		for i := range t.Columns {
			c := &t.Columns[i]
			c.Name = d.str()
			c.Type = d.str()
			c.NotNull = d.boolean()
			k := d.uvarint()
			if k > uint64(n) {
				d.fail(errf("column %d key position %d", i, k))
			}
			c.Key = int(k)
			c.Default = d.str()
		}
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	return t, t.check()
}

func appendValues(b []byte, vs []Value) []byte {
	b = appendUvarint(b, uint64(len(vs)))
	for i := range vs {
		b = appendValue(b, &vs[i])
	}
	return b
}

func appendRow(b []byte, r *Row) []byte {
	b = appendUvarint(b, r.Version)
	b = appendString(b, r.Master)
	b = appendString(b, r.Origin)
	b = appendString(b, r.Creator)
	b = appendUvarint(b, r.Epoch)
	b = appendBool(b, r.Deleted)
	b = appendValues(b, r.Values)
	return appendBytes(b, r.Proof)
}

func decodeRow(d *decoder, t *Table) (*Row, error) {
	r, err := readRow(d)
	if err != nil {
		return nil, err
	}
	return r, r.check(t)
}

// readRow decodes a row without checking it against its table.
func readRow(d *decoder) (*Row, error) {
	r := &Row{
		Version: d.uvarint(),
		Master:  d.name(),
		Origin:  d.name(),
		Creator: d.name(),
		Epoch:   d.uvarint(),
		Deleted: d.boolean(),
		Values:  d.values(),
		Proof:   d.proof(),
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	return r, nil
}

func appendTransfer(b []byte, x *Transfer) []byte {
	b = appendString(b, x.Table)
	b = appendValues(b, x.Key)
	b = appendUvarint(b, x.Version)
	b = appendString(b, x.From)
	b = appendString(b, x.To)
	b = appendUvarint(b, x.Epoch)
	return appendBytes(b, x.Proof)
}

func decodeTransfer(d *decoder) (*Transfer, error) {
	x := &Transfer{
		Table:   d.str(),
		Key:     d.values(),
		Version: d.uvarint(),
		From:    d.name(),
		To:      d.name(),
		Epoch:   d.uvarint(),
		Proof:   d.proof(),
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	return x, x.check()
}

func appendReplica(b []byte, r *Replica) []byte {
	b = appendString(b, r.ID)
	b = appendString(b, r.Name)
	b = appendVarint(b, r.Number)
	b = appendBytes(b, r.PublicKey)
	b = appendString(b, r.State)
	b = appendUvarint(b, r.Version)
	b = appendBytes(b, r.KeySig)
	b = appendUvarint(b, r.Incarnation)
	b = appendString(b, r.Signer)
	return appendBytes(b, r.Proof)
}

func decodeReplica(d *decoder) (*Replica, error) {
	r := &Replica{
		ID:          d.str(),
		Name:        d.str(),
		Number:      d.varint(),
		PublicKey:   d.blob(),
		State:       d.str(),
		Version:     d.uvarint(),
		KeySig:      d.blob(),
		Incarnation: d.uvarint(),
		Signer:      d.str(),
		Proof:       d.proof(),
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	return r, r.check()
}

func appendSetting(b []byte, s *Setting) []byte {
	b = appendString(b, s.Key)
	b = appendString(b, s.Value)
	b = appendString(b, s.Signer)
	return appendBytes(b, s.Proof)
}

func decodeSetting(d *decoder) (*Setting, error) {
	s := &Setting{Key: d.str(), Value: d.str(), Signer: d.str(), Proof: d.proof()}
	if err := d.finish(); err != nil {
		return nil, err
	}
	return s, s.check()
}

func appendInvite(b []byte, v *Invite) []byte {
	return appendBytes(b, v.Secret)
}

func decodeInvite(d *decoder) (*Invite, error) {
	v := &Invite{Secret: d.blob()}
	if err := d.finish(); err != nil {
		return nil, err
	}
	return v, v.check()
}

func appendSealed(b []byte, s *Sealed) []byte {
	b = appendString(b, s.Replica)
	b = appendUvarint(b, s.Epoch)
	return appendBytes(b, s.Proof)
}

func decodeSealed(d *decoder) (*Sealed, error) {
	s := &Sealed{Replica: d.str(), Epoch: d.uvarint(), Proof: d.proof()}
	if err := d.finish(); err != nil {
		return nil, err
	}
	return s, s.check()
}
