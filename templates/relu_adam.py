"""5. MLP with ReLU units and Adam: the usual strong baseline.

hypertune train templates/relu_adam.py --epochs 20
"""

import keras
from keras import layers


def create_model():
    model = keras.Sequential(
        [
            keras.Input(shape=(784,)),
            layers.Dense(512, activation="relu"),
            layers.Dense(128, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
