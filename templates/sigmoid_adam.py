"""3. The same sigmoid MLP trained with Adam: the optimizer makes up for the saturation.

hypertune train templates/sigmoid_adam.py --epochs 20
"""

import keras
from keras import layers


def halving_every_5_epochs():
    """Adam's usual 1e-3, halved every 5 epochs of 391 batches: later epochs settle instead of
    bouncing around the minimum."""
    return keras.optimizers.schedules.ExponentialDecay(1e-3, decay_steps=5 * 391, decay_rate=0.5)


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
        optimizer=keras.optimizers.Adam(learning_rate=halving_every_5_epochs()),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
