"""The steps of the cloud path: upload, image, train, tune, endpoint, predict, batch, cleanup, instances."""
