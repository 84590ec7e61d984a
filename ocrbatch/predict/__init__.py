"""Use trained models the way a user will: through the stock ``paddleocr`` package, offline.

``recognize`` reads cropped lines with a recognizer; ``frames`` reads every text box of whole
frames with a detector and a recognizer; ``drawing`` draws what was read onto the images;
``prelabel`` turns readings into PPOCRLabel files for a person to correct; ``models`` says what a
model folder is.
"""

from ocrbatch.predict.models import model_name_of
from ocrbatch.predict.recognize import Prediction, predict_images

__all__ = ["Prediction", "model_name_of", "predict_images"]
