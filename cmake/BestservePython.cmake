# Finds pybind11 for the optional Python module (python/). Sets BESTSERVE_PYTHON when it will be
# built. Debian's /usr/bin/python3 is the default interpreter (another python3 may come first on
# PATH); pass -DPYTHON_EXECUTABLE=... to build for a different one.
set(BESTSERVE_PYTHON OFF)
# (python/CMakeLists.txt makes the libraries the module links position-independent.)
if(BESTSERVE_WITH_PYTHON)
  if(NOT PYTHON_EXECUTABLE AND EXISTS /usr/bin/python3)
    set(PYTHON_EXECUTABLE /usr/bin/python3 CACHE FILEPATH "Python interpreter the module is built for")
  endif()
  find_package(pybind11 CONFIG QUIET)
  if(pybind11_FOUND)
    set(BESTSERVE_PYTHON ON)
    message(STATUS "bestserve: Python module enabled (pybind11 ${pybind11_VERSION}, ${PYTHON_EXECUTABLE})")
  else()
    message(STATUS "bestserve: pybind11 not found; the Python module and its tests are skipped")
  endif()
endif()
