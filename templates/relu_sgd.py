"""4. MLP with ReLU units and SGD, weights drawn by the he_normal initializer (suited to ReLU).

hypertune train templates/relu_sgd.py --epochs 20
"""

import keras
from keras import layers


def create_model():
    model = keras.Sequential(
        [
            keras.Input(shape=(784,)),
            layers.Dense(512, activation="relu", kernel_initializer="he_normal"),
            layers.Dense(128, activation="relu", kernel_initializer="he_normal"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.1),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
