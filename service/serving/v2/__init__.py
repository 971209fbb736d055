"""The Open Inference Protocol V2 (REST), served beside /predict with the same models."""
