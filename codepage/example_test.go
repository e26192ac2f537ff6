package codepage_test

import (
	"errors"
	"fmt"

	"github.com/multisite-go/multisite/codepage"
)

func ExampleLookup() {
	for _, name := range []string{"1252", "cp932", "latin1", "utf8"} {
		c, err := codepage.Lookup(name)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%s -> %s (%d)\n", name, c.Name(), c.Number())
	}

	_, err := codepage.Lookup("windows-1525")
	var ue *codepage.UnknownError
	if errors.As(err, &ue) {
		fmt.Println(errors.Is(err, codepage.ErrUnknown), ue.Suggestions[:2])
	}
	// Output:
	// 1252 -> windows-1252 (1252)
	// cp932 -> Shift_JIS (932)
	// latin1 -> ISO-8859-1 (28591)
	// utf8 -> UTF-8 (65001)
	// true [windows-1255 windows-1250]
}

func ExampleCodePage_Check() {
	cp, _ := codepage.Lookup("windows-1252")
	for _, v := range cp.Check("Café in 東京\xff") {
		fmt.Println(v)
	}
	fmt.Println(cp.Valid("Crème brûlée, 5 €"))
	// Output:
	// U+6771 '東' at byte 9
	// U+4EAC '京' at byte 12
	// invalid UTF-8 byte 0xff at byte 15
	// true
}

func ExampleCodePage_Clean() {
	cp, _ := codepage.Lookup("US-ASCII")
	for _, s := range []codepage.Strategy{codepage.Replace, codepage.Transliterate, codepage.Drop} {
		out, changed := cp.Clean("“Größe” – 東京", codepage.CleanOptions{Strategy: s})
		fmt.Printf("%-13s %q %v\n", s, out, changed)
	}
	// Output:
	// Replace       "?Gr??e? ? ??" true
	// Transliterate "\"Grosse\" - ??" true
	// Drop          "Gre  " true
}

func ExampleCodePage_Validate() {
	cp, _ := codepage.LookupNumber(20866) // KOI8-R
	err := cp.Validate("Київ")
	fmt.Println(err)
	var ve *codepage.ViolationError
	if errors.As(err, &ve) {
		fmt.Println(ve.Violations[0].Rune == 'ї')
	}
	// Output:
	// codepage: 1 character outside KOI8-R: U+0457 'ї' at byte 4
	// true
}
