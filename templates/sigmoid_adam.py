"""3. The same sigmoid MLP trained with Adam: the optimizer makes up for the saturation.

hypertune train templates/sigmoid_adam.py --epochs 20
"""

import keras
from keras import layers


def create_model():
    model = keras.Sequential(
        [
            keras.Input(shape=(784,)),
            layers.Dense(512, activation="sigmoid"),
            layers.Dense(128, activation="sigmoid"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
