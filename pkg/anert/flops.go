package anert

import "github.com/anekit/anekit/pkg/mil"

// FLOPs counts the floating-point operations of one evaluation of p's main
// function: mil.CountFLOPs(p).Total(), matrix and elementwise work together
// (so throughput figures are computed from the program, never typed in).
func FLOPs(p *mil.Program) (int64, error) {
	n, err := mil.CountFLOPs(p)
	return n.Total(), err
}
