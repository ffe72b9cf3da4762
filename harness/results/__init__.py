"""Results across runs: run snapshots, baseline files, paired comparisons, gate policies and the gate."""
