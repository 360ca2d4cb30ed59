import os; os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
import logging, sys, json
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
from emoedge.training.config import TrainConfig
from emoedge.training.fit import fit
import keras

class EpochLog(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        logging.info("epoch %d %s", epoch + 1, json.dumps({k: round(float(v), 4) for k, v in (logs or {}).items()}))

which = sys.argv[1]
if which == "mini_xception":
    cfg = TrainConfig(model="mini_xception", data="/work/shared/datasets/ferplus", out="runs/mini_xception",
                      epochs=int(os.environ.get("EPOCHS", 30)), batch_size=64, learning_rate=1e-3, patience=8, seed=42, threads=1,
                      init_from="runs/fer2013_mini_xception.hdf5", resume="--resume" in sys.argv)
else:
    cfg = TrainConfig(model="mobilenet_v2", data="/work/shared/datasets/ferplus", out="runs/mobilenet_v2",
                      input_size=64, model_options={"alpha": 0.5}, epochs=int(os.environ.get("EPOCHS", 30)), batch_size=64,
                      learning_rate=2e-3, weight_decay=1e-4, patience=8, seed=42, threads=1,
                      resume="--resume" in sys.argv)
print(fit(cfg, callbacks=[EpochLog()]))
