"""1. Softmax regression: one Dense layer from 784 pixels to 10 classes, trained with SGD.

hypertune train templates/softmax.py --epochs 20
"""

import keras
from keras import layers


def create_model():
    model = keras.Sequential(
        [
            keras.Input(shape=(784,)),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.1),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
