"""Baseline for serving_load: the FastAPI app a user writes by hand around a Hugging Face pipeline.

One `pipeline` call per request, torch fp32, no batching across requests.
Run: MODEL_DIR=<version folder> uvicorn pipeline_server:app --port 8001
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from transformers import pipeline

classifier = pipeline("text-classification", model=os.environ["MODEL_DIR"], device=-1)
app = FastAPI()


class Body(BaseModel):
    text: str


@app.post("/predict")
def predict(body: Body) -> Any:
    return {"labels": classifier(body.text, top_k=3)}
