//go:build !race

package test

// raceEnabled says the tests run with -race; the child binary is built so too.
const raceEnabled = false
