"""``SpikeRecorder``: a spike sink whose record crosses back to the host packed."""
