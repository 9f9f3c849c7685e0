"""Inference library: numpy, OpenCV, PyAV and ONNX Runtime only (never torch)."""
