print('preprocess')
