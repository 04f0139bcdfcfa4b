"""The colorizers (python -m train): ColorCNN and the GAN's discriminator (model), its EfficientNet-Lite encoder,
the ab cells (bins), losses, colour metrics, the trainer's product (trainer), and the tools run after training:
python -m train.colorize.tune (the decoding) and python -m train.colorize.evaluate (the figures)."""
