"""The steps of the cloud path: upload, image, train, tune, deploy, predict, batch, cleanup."""
