"""The adversarial torture harness: generated trees, real runners, injected faults, oracles."""
