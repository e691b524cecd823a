"""Measuring routers: labelled data, embeddings cache, metrics, learned-router training, reports.

Pure logic, no Ray. numpy is the only eager import; torch, scikit-learn, matplotlib and tqdm are
imported inside the functions that need them.
"""
