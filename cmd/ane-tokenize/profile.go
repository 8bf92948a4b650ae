package main

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
)

// ProfileEnv names the environment variable that, when set to a file name,
// makes ane-tokenize write a CPU profile of the whole run there (read it
// with "go tool pprof ane-tokenize FILE").
const ProfileEnv = "ANEKIT_CPUPROFILE"

// startProfile starts the CPU profile asked for by ProfileEnv, if any, and
// returns the function that stops it. Failing to start is reported on
// stderr and does not stop the run.
func startProfile(stderr io.Writer) (stop func()) {
	path := os.Getenv(ProfileEnv)
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
		if err != nil {
			f.Close()
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "ane-tokenize: %s: %v\n", ProfileEnv, err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintf(stderr, "ane-tokenize: %s: %v\n", ProfileEnv, err)
		}
	}
}
