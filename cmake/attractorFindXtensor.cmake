# Sets ATTRACTOR_XTENSOR_TARGET to a target that brings xtensor and xtl, or leaves it empty where they are missing.
# Uses xtensor's CMake package where one is installed, else its headers: Debian's xtensor-dev ships no CMake files.
# Shared by the build and the installed package config.
set(ATTRACTOR_XTENSOR_TARGET "")
if(NOT TARGET xtensor)
  find_package(xtensor QUIET)
endif()
if(TARGET xtensor)
  set(ATTRACTOR_XTENSOR_TARGET xtensor)
elseif(TARGET attractor_xtensor)
  set(ATTRACTOR_XTENSOR_TARGET attractor_xtensor)
else()
  find_path(ATTRACTOR_XTENSOR_INCLUDE_DIR xtensor/xarray.hpp)
  find_path(ATTRACTOR_XTL_INCLUDE_DIR xtl/xtl_config.hpp)
  if(ATTRACTOR_XTENSOR_INCLUDE_DIR AND ATTRACTOR_XTL_INCLUDE_DIR)
    add_library(attractor_xtensor INTERFACE IMPORTED)
    set_target_properties(attractor_xtensor PROPERTIES INTERFACE_INCLUDE_DIRECTORIES
                                                       "${ATTRACTOR_XTENSOR_INCLUDE_DIR};${ATTRACTOR_XTL_INCLUDE_DIR}")
    set(ATTRACTOR_XTENSOR_TARGET attractor_xtensor)
  endif()
endif()
