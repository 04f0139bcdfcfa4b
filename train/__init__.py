"""Training, by product: train.colorize (the CNN and GAN colorizers) and train.restore (the restorer and the crack
filler), on what they share here: RunConfig (config), checkpoints, the photo banks (data), torchrun plumbing
(distributed), run-folder reports, the one Trainer loop (trainer), torch_predict (predict) and weight averaging
(soup)."""
