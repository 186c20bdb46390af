"""2. MLP with sigmoid units, trained with plain SGD: slow, as sigmoids saturate.

hypertune train templates/sigmoid_sgd.py --epochs 20
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
        optimizer=keras.optimizers.SGD(learning_rate=0.1),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
