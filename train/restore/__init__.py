"""The restorer (python -m train.restore) and the crack filler (python -m train.restore.crack): their networks
(model, crack_model), synthetic damage (degrade), the restorer's trainer product and its measurement
(python -m train.restore.evaluate)."""
