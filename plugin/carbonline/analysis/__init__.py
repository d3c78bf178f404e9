"""The analyser stage: baselines, detection and probable cause (design brief §1, §5)."""
