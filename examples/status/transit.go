package main

import "fmt"

// Damage is what befalls a packet's bytes between the export at one site
// and the import at another: a transfer cut short, a bit flipped on a bad
// line or disk. The library makes no such thing happen; the demo and the
// tests use it to show, and check, what ImportPacket does with a packet
// that does not arrive intact: it refuses it with a syncpkt error
// (errors.Is syncpkt.ErrTruncated, syncpkt.ErrChecksum, ...) and changes
// nothing, and the next intact packet carries the same changes again.
type Damage interface {
	// Apply returns the bytes that arrive, given those sent. It may
	// change pkt in place.
	Apply(pkt []byte) []byte
	// String says what happened, for the packet log.
	String() string
}

// Truncate loses the last n bytes of a packet (all of it if it is shorter),
// as a transfer cut short does.
type Truncate int

// Apply returns pkt without its last n bytes.
func (n Truncate) Apply(pkt []byte) []byte {
	return pkt[:len(pkt)-min(max(int(n), 0), len(pkt))]
}

func (n Truncate) String() string { return fmt.Sprintf("lost its last %d bytes in transit", int(n)) }

// FlipBit inverts the lowest bit of the byte at this offset of a packet
// (the last byte if the packet is shorter), as a bad line or disk does.
type FlipBit int

// Apply flips the bit in place and returns pkt.
func (i FlipBit) Apply(pkt []byte) []byte {
	if len(pkt) == 0 {
		return pkt
	}
	pkt[min(max(int(i), 0), len(pkt)-1)] ^= 1
	return pkt
}

func (i FlipBit) String() string {
	return fmt.Sprintf("had a bit flipped at byte %d in transit", int(i))
}
