"""The Gradio web UI (``python app.py``); the only part of copilot that imports gradio."""
