"""Filled, scanned sample stacks with ground truth: the reader's test data and the demo's input.

``generate_stack`` (samples.generate) writes a stack (PDF, TIFF, a directory or a ZIP of images)
plus ``<name>.truth.json``; ``make_demo_stack`` (samples.demo) is the fixed recipe the demo runs.
``samples/stack/`` holds small committed files that are *not* sheets, for bad-input tests.
"""

from pathlib import Path

STACK_DIR = Path(__file__).parent / "stack"
