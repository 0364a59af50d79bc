//go:build crash100

package test

// crashCycles is how many kill-and-recover cycles TestCrashRecovery runs
// under -tags crash100 (make crash100).
const crashCycles = 100
