package mastership_test

import (
	"fmt"

	"github.com/multisite-go/multisite/mastership"
)

func ExampleDecide() {
	held := mastership.Image{Version: 3, Creator: "b1", Master: "b1", Origin: "b1", Epoch: 2}
	for _, in := range []mastership.Image{
		{Version: 4, Creator: "b1", Master: "b1", Origin: "b1", Epoch: 3}, // the next change on the chain
		{Version: 3, Creator: "b1", Master: "b1", Origin: "b1", Epoch: 2}, // the same image again
		{Version: 1, Creator: "a7", Master: "a7", Origin: "a7", Epoch: 1}, // the same key, created at a7
		{Version: 9, Creator: "c4", Master: "c4", Origin: "c4", Epoch: 5}, // the same key, created at c4
	} {
		fmt.Println(mastership.Decide(held, in, nil))
	}
	// Output:
	// replace
	// keep
	// won
	// lost
}

func ExampleMayChange() {
	held := mastership.Image{Version: 3, Creator: "b1", Master: "b1"}
	log := []mastership.Transfer{{Version: 4, From: "b1", To: "g2"}} // b1 handed the row to g2
	for _, in := range []mastership.Image{
		{Version: 5, Creator: "b1", Origin: "g2"},
		{Version: 5, Creator: "b1", Origin: "x9"},
	} {
		master, ok := mastership.MayChange(held, in, log)
		fmt.Println(in.Origin, ok, "master", master)
	}
	// Output:
	// g2 true master g2
	// x9 false master g2
}
