"""The command line. Library noise is kept off the user's terminal: every failure is
reported by colorize itself, as one line naming the file."""

import os
import warnings

# OpenCV logs its own decoder errors (a TIFF page it cannot read, which Pillow then reads)
# to stderr; set before cv2 is first imported, and left to the user where already set
os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")
# Pillow warns about damaged EXIF blocks; the image is read or reported failed regardless
warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
