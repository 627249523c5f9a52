"""DVC: the generated stages and remote config in the real `dvc`."""
