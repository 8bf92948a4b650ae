package gemm

import "os"

// forced is the path the ANEKIT_GEMM environment variable asks for, read
// once at start-up:
//
//	go          the portable Go kernel, on every architecture
//	neon        arm64: the NEON kernel for every call, never Accelerate
//	accelerate  darwin/arm64: large fp32 calls to Accelerate (the default)
//
// Unset, empty or any other value means the default: the fastest path the
// CPU has (Accelerate for large fp32 calls on darwin/arm64 when it loads).
var forced = os.Getenv("ANEKIT_GEMM")
