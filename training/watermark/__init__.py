"""Training, data rendering and evaluation for models/watermark."""
