package replica

import (
	"fmt"
	"sort"
	"strings"
)

// Vector maps an origin replica to the highest epoch of that origin's changes
// a replica holds in full. A missing origin means epoch 0: nothing. The zero
// value (nil) is an empty vector, safe to read.
type Vector map[ID]uint64

// Get returns the epoch held of origin.
func (v Vector) Get(origin ID) uint64 { return v[origin] }

// Clone returns a copy of v.
func (v Vector) Clone() Vector {
	c := make(Vector, len(v))
	for k, e := range v {
		c[k] = e
	}
	return c
}

// Merge raises every epoch of v to at least the one in o.
func (v Vector) Merge(o Vector) {
	for k, e := range o {
		if e > v[k] {
			v[k] = e
		}
	}
}

// Covers reports whether v holds at least everything o holds.
func (v Vector) Covers(o Vector) bool {
	for k, e := range o {
		if v[k] < e {
			return false
		}
	}
	return true
}

// Origins returns the origins of v in sorted order.
func (v Vector) Origins() []ID {
	ids := make([]ID, 0, len(v))
	for k := range v {
		ids = append(ids, k)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// String formats v as "a:3 b:7" in origin order.
func (v Vector) String() string {
	var b strings.Builder
	for i, id := range v.Origins() {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s:%d", id, v[id])
	}
	return b.String()
}

// Holds reports whether v holds epoch of origin: the epoch is at most the
// one v has of origin. Epochs of one origin are held in full up to that
// point, never with holes, which is what lets a single number per origin
// stand for everything a replica has.
func (v Vector) Holds(origin ID, epoch uint64) bool { return epoch <= v[origin] }

// Short returns the first origin, in origin order, of which v holds less
// than o holds; ok is false if v covers o ([Vector.Covers]).
func (v Vector) Short(o Vector) (origin ID, ok bool) {
	for _, id := range o.Origins() {
		if v[id] < o[id] {
			return id, true
		}
	}
	return "", false
}
