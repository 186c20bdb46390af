"""6. MLP with batch normalization between each Dense layer and its ReLU, trained with Adam.

hypertune train templates/relu_batchnorm.py --epochs 20
"""

import keras
from keras import layers


def create_model():
    model = keras.Sequential(
        [
            keras.Input(shape=(784,)),
            layers.Dense(512, use_bias=False),
            layers.BatchNormalization(),
            layers.Activation("relu"),
            layers.Dense(128, use_bias=False),
            layers.BatchNormalization(),
            layers.Activation("relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
