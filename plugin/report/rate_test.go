package report

import "testing"

// The success rate is completed over started, 0 for a quiet day, capped at
// 1 when completions of recoveries started the day before land on it.
func TestSuccessRate(t *testing.T) {
	tests := []struct {
		name          string
		done, started int64
		want          float64
	}{
		{"quiet-day", 0, 0, 0},
		{"half", 2, 4, 0.5},
		{"capped", 2, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := successRate(tt.done, tt.started); got != tt.want {
				t.Errorf("successRate(%d, %d) = %v, want %v", tt.done, tt.started, got, tt.want)
			}
		})
	}
}
