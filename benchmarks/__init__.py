"""Benchmarks: rosenblatt side by side with PyTorch CPU and scikit-learn (issue 7).

Run ``python -m benchmarks.run [--quick]``; see ``benchmarks/README.md``.
"""
