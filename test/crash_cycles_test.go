//go:build !crash100

package test

// crashCycles is how many kill-and-recover cycles TestCrashRecovery runs;
// -tags crash100 makes it 100 (crash_long_test.go).
const crashCycles = 10
