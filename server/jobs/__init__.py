"""The job runner: the worker that claims and runs queued jobs (`runner`) and the worker process
with every feature's handlers wired in (`worker`: `kith worker`, or inside `kith serve`)."""
