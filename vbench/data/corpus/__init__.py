"""The screenshot corpus: CLIP embeddings + faiss index over a folder or HF dataset of images.

``store`` opens a built corpus (``load_corpus``, ``item_values``); ``build`` embeds a source into one,
streamed and resumable; ``split`` turns it into the value-indexed evaluation split.
"""
